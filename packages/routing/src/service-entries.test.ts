import type { ServiceEndpoint } from '@podlink/core'
import { describe, expect, it } from 'vitest'
import { computeRouting } from './compute-routing.ts'
import { fakePeerId, makeEndpoint, makeNode, makeView, type ServiceSpec } from './testing/index.ts'

// self n1 shares site-a with n2; n3 is at site-b; n4 and n5 publish one peer ID; n6/n7 clash on a network.
const nodes = [
  makeNode('n1', { podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'], lan: 'site-a' }),
  makeNode('n2', { podCIDRs: ['10.244.2.0/24'], lan: 'site-a' }),
  makeNode('n3', { podCIDRs: ['10.244.3.0/24', 'fd00:10:244:3::/64'], lan: 'site-b' }),
  makeNode('n4', { podCIDRs: ['10.244.4.0/24'], peerId: fakePeerId('twin') }),
  makeNode('n5', { podCIDRs: ['10.244.5.0/24'], peerId: fakePeerId('twin') }),
  makeNode('n6', { podCIDRs: ['10.244.6.0/24'] }),
  makeNode('n7', { podCIDRs: ['10.244.6.0/24'] }),
]

type Row = [ip: string, port: number, node: string | null, cls: ServiceEndpoint['class']]

function entriesOf(spec: ServiceSpec, kubeProxy?: boolean) {
  const view = makeView({ nodes, services: { 'shop/cart': spec } })
  const input =
    kubeProxy === undefined
      ? { view, self: 'n1', lanPeers: new Set<string>() }
      : { view, self: 'n1', lanPeers: new Set<string>(), kubeProxy }
  return computeRouting(input).services.map((s) => ({
    at: `${s.clusterIP}:${s.port}/${s.protocol}`,
    offLan: s.offLan,
    endpoints: s.endpoints.map((e): Row => [e.ip, e.port, e.node, e.class]),
  }))
}

describe('service entries', () => {
  const cases: readonly { name: string; spec: ServiceSpec; kubeProxy?: boolean; want: ReturnType<typeof entriesOf> }[] =
    [
      {
        name: 'local and LAN endpoints only: not captured',
        spec: {
          clusterIPs: ['10.96.0.10'],
          endpoints: [makeEndpoint('10.244.2.5', { nodeName: 'n2' }), makeEndpoint('10.244.1.5', { nodeName: 'n1' })],
        },
        want: [
          {
            at: '10.96.0.10:80/tcp',
            offLan: false,
            endpoints: [
              ['10.244.1.5', 8080, 'n1', 'local'],
              ['10.244.2.5', 8080, 'n2', 'lan'],
            ],
          },
        ],
      },
      {
        name: 'one mesh endpoint makes the ClusterIP off LAN; not-ready endpoints are left out',
        spec: {
          clusterIPs: ['10.96.0.10'],
          endpoints: [
            makeEndpoint('10.244.3.5', { nodeName: 'n3' }),
            makeEndpoint('10.244.2.5', { nodeName: 'n2' }),
            makeEndpoint('10.244.2.6', { nodeName: 'n2', ready: false }),
          ],
        },
        want: [
          {
            at: '10.96.0.10:80/tcp',
            offLan: true,
            endpoints: [
              ['10.244.2.5', 8080, 'n2', 'lan'],
              ['10.244.3.5', 8080, 'n3', 'mesh'],
            ],
          },
        ],
      },
      {
        name: 'only not-ready mesh endpoints: nothing to capture',
        spec: { clusterIPs: ['10.96.0.10'], endpoints: [makeEndpoint('10.244.3.5', { nodeName: 'n3', ready: false })] },
        want: [{ at: '10.96.0.10:80/tcp', offLan: false, endpoints: [] }],
      },
      {
        name: 'headless Service: no entries',
        spec: { clusterIPs: [], endpoints: [makeEndpoint('10.244.3.5', { nodeName: 'n3' })] },
        want: [],
      },
      {
        name: 'no node name: placed by the pod network holding the IP; outside every network counts as LAN',
        spec: {
          clusterIPs: ['10.96.0.10'],
          endpoints: [makeEndpoint('10.244.3.9'), makeEndpoint('10.244.1.9'), makeEndpoint('172.16.0.5')],
        },
        want: [
          {
            at: '10.96.0.10:80/tcp',
            offLan: true,
            endpoints: [
              ['10.244.1.9', 8080, 'n1', 'local'],
              ['10.244.3.9', 8080, 'n3', 'mesh'],
              ['172.16.0.5', 8080, null, 'lan'],
            ],
          },
        ],
      },
      {
        name: 'endpoints in a clashing network or on a node with a disputed peer ID are never used',
        spec: {
          clusterIPs: ['10.96.0.10'],
          endpoints: [
            makeEndpoint('10.244.6.9'),
            makeEndpoint('10.244.4.9', { nodeName: 'n4' }),
            makeEndpoint('10.244.2.9'),
          ],
        },
        want: [{ at: '10.96.0.10:80/tcp', offLan: false, endpoints: [['10.244.2.9', 8080, 'n2', 'lan']] }],
      },
      {
        name: 'dual-stack: one entry per ClusterIP family and port, endpoints of that family, matched by port name',
        spec: {
          clusterIPs: ['fd00:96::a', '10.96.0.10'],
          ports: [
            { name: 'dns', port: 53, protocol: 'udp' },
            { name: 'http', port: 80, protocol: 'tcp' },
          ],
          endpoints: [
            makeEndpoint('10.244.3.5', {
              nodeName: 'n3',
              ports: [
                { name: 'http', port: 8080, protocol: 'tcp' },
                { name: 'dns', port: 5353, protocol: 'udp' },
              ],
            }),
            makeEndpoint('fd00:10:244:1::5', { nodeName: 'n1', port: 8081 }),
          ],
        },
        want: [
          { at: '10.96.0.10:53/udp', offLan: true, endpoints: [['10.244.3.5', 5353, 'n3', 'mesh']] },
          { at: '10.96.0.10:80/tcp', offLan: true, endpoints: [['10.244.3.5', 8080, 'n3', 'mesh']] },
          { at: 'fd00:96::a:53/udp', offLan: false, endpoints: [] },
          { at: 'fd00:96::a:80/tcp', offLan: false, endpoints: [['fd00:10:244:1::5', 8081, 'n1', 'local']] },
        ],
      },
      {
        name: 'without kube-proxy every ClusterIP with endpoints is captured',
        spec: { clusterIPs: ['10.96.0.10'], endpoints: [makeEndpoint('10.244.2.5', { nodeName: 'n2' })] },
        kubeProxy: false,
        want: [{ at: '10.96.0.10:80/tcp', offLan: true, endpoints: [['10.244.2.5', 8080, 'n2', 'lan']] }],
      },
      {
        name: 'an address repeated across EndpointSlices is listed once',
        spec: {
          clusterIPs: ['10.96.0.10'],
          endpoints: [makeEndpoint('10.244.2.5', { nodeName: 'n2' }), makeEndpoint('10.244.2.5', { nodeName: 'n2' })],
        },
        want: [{ at: '10.96.0.10:80/tcp', offLan: false, endpoints: [['10.244.2.5', 8080, 'n2', 'lan']] }],
      },
    ]
  it.each(cases)('$name', ({ spec, kubeProxy, want }) => {
    expect(entriesOf(spec, kubeProxy)).toEqual(want)
  })

  it('carries the Service fields and zones through', () => {
    const view = makeView({
      nodes,
      services: {
        'shop/cart': {
          clusterIPs: ['10.96.0.10'],
          sessionAffinity: 'ClientIP',
          endpoints: [makeEndpoint('10.244.2.5', { nodeName: 'n2', zone: 'z1' })],
        },
        'shop/api': { clusterIPs: ['10.96.0.11'] },
      },
    })
    const services = computeRouting({ view, self: 'n1', lanPeers: new Set() }).services
    expect(services.map((s) => s.service)).toEqual(['shop/api', 'shop/cart'])
    expect(services[1]).toMatchObject({
      service: 'shop/cart',
      portName: 'http',
      sessionAffinity: 'ClientIP',
      affinityTimeoutSeconds: 10800,
      endpoints: [{ ip: '10.244.2.5', zone: 'z1' }],
    })
  })
})
