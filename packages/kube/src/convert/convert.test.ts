import { describe, expect, it } from 'vitest'
import { toSliceInfo } from './endpoint-slice.ts'
import { toNodeInfo } from './node-info.ts'
import { toServiceInfo } from './service-info.ts'

describe('toNodeInfo', () => {
  it('reads podCIDRs, addresses, labels and annotations', () => {
    expect(
      toNodeInfo({
        metadata: { name: 'edge1-a', labels: { a: '1' }, annotations: { 'podlink.io/peer-id': '12D3' } },
        spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24', 'fd00:1::/64'] },
        status: {
          addresses: [
            { type: 'InternalIP', address: '192.168.1.11' },
            { type: 'Hostname', address: 'a' },
          ],
        },
      }),
    ).toEqual({
      name: 'edge1-a',
      podCIDRs: ['10.244.1.0/24', 'fd00:1::/64'],
      addresses: [
        { type: 'InternalIP', address: '192.168.1.11' },
        { type: 'Hostname', address: 'a' },
      ],
      labels: { a: '1' },
      annotations: { 'podlink.io/peer-id': '12D3' },
    })
  })

  it('falls back to spec.podCIDR and keeps an unparsable CIDR as written', () => {
    expect(toNodeInfo({ metadata: { name: 'n' }, spec: { podCIDR: '10.244.999.0/24' } })?.podCIDRs).toEqual([
      '10.244.999.0/24',
    ])
  })

  it.each([
    ['no spec or status', { metadata: { name: 'n' } }],
    [
      'garbage types',
      {
        metadata: { name: 'n', labels: 7, annotations: { x: 1, y: 'ok' } },
        spec: { podCIDRs: 'x' },
        status: { addresses: [null, 3, { type: 'InternalIP' }] },
      },
    ],
    ['arrays where objects belong', { metadata: { name: 'n', labels: ['a'] }, spec: [], status: 'up' }],
  ])('survives %s', (_, obj) => {
    const info = toNodeInfo(obj)
    expect(info?.name).toBe('n')
    expect(info?.addresses).toEqual([])
    expect(info?.podCIDRs).toEqual([])
    expect(Object.values(info?.annotations ?? {}).every((v) => typeof v === 'string')).toBe(true)
  })

  it.each([[null], [undefined], ['x'], [{}], [{ metadata: { name: '' } }]])('skips %j', (obj) => {
    expect(toNodeInfo(obj)).toBeUndefined()
  })
})

describe('toServiceInfo', () => {
  it('reads ClusterIPs, ports and affinity', () => {
    expect(
      toServiceInfo({
        metadata: { name: 'web', namespace: 'shop' },
        spec: {
          clusterIP: '10.96.0.10',
          clusterIPs: ['10.96.0.10', 'fd00::a'],
          ports: [
            { name: 'http', port: 80, protocol: 'TCP' },
            { name: 'dns', port: 53, protocol: 'UDP' },
            { name: 'sig', port: 9, protocol: 'SCTP' },
            { name: 'bad', port: 70000 },
            { port: 8080 },
          ],
          sessionAffinity: 'ClientIP',
          sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
        },
      }),
    ).toEqual({
      namespace: 'shop',
      name: 'web',
      clusterIPs: ['10.96.0.10', 'fd00::a'],
      ports: [
        { name: 'http', port: 80, protocol: 'tcp' },
        { name: 'dns', port: 53, protocol: 'udp' },
        { name: '', port: 8080, protocol: 'tcp' },
      ],
      sessionAffinity: 'ClientIP',
      affinityTimeoutSeconds: 60,
    })
  })

  it.each([
    ['headless', { clusterIP: 'None', clusterIPs: ['None'] }, []],
    ['ExternalName', { type: 'ExternalName', externalName: 'x.example' }, []],
    ['clusterIP only', { clusterIP: '10.96.0.1' }, ['10.96.0.1']],
  ])('%s', (_, spec, ips) => {
    expect(toServiceInfo({ metadata: { name: 's', namespace: 'd' }, spec })?.clusterIPs).toEqual(ips)
  })

  it.each([
    [undefined, 10_800],
    [{ clientIP: { timeoutSeconds: 0 } }, 10_800],
    [{ clientIP: { timeoutSeconds: 'x' } }, 10_800],
    [{ clientIP: { timeoutSeconds: 86_400 } }, 86_400],
  ])('affinity timeout from %j is %d', (config, seconds) => {
    const svc = toServiceInfo({
      metadata: { name: 's' },
      spec: { sessionAffinity: 'ClientIP', sessionAffinityConfig: config },
    })
    expect(svc?.affinityTimeoutSeconds).toBe(seconds)
    expect(svc?.namespace).toBe('default')
  })
})

describe('toSliceInfo', () => {
  const slice = (extra: Record<string, unknown>) => ({
    metadata: { name: 'web-abc', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'all' }],
    ...extra,
  })

  it('reads endpoints with readiness, node, zone and hints', () => {
    const info = toSliceInfo(
      slice({
        endpoints: [
          {
            addresses: ['10.244.1.2'],
            conditions: { ready: true },
            nodeName: 'edge1-a',
            zone: 'z1',
            hints: { forZones: [{ name: 'z1' }, { name: 'z2' }] },
          },
          { addresses: ['10.244.2.2', '10.244.2.3'] },
          { addresses: ['10.244.3.2'], conditions: { ready: false, terminating: true } },
          { addresses: [5, ''] },
          'junk',
        ],
      }),
    )
    const ports = [{ name: 'http', port: 8080, protocol: 'tcp' }]
    expect(info).toEqual({
      service: 'shop/web',
      endpoints: [
        { address: '10.244.1.2', ready: true, nodeName: 'edge1-a', zone: 'z1', hintZones: ['z1', 'z2'], ports },
        { address: '10.244.2.2', ready: true, ports },
        { address: '10.244.2.3', ready: true, ports },
        { address: '10.244.3.2', ready: false, ports },
      ],
    })
  })

  it('gives FQDN slices no endpoints and skips slices without a service label', () => {
    expect(toSliceInfo(slice({ addressType: 'FQDN', endpoints: [{ addresses: ['a.example'] }] }))).toEqual({
      service: 'shop/web',
      endpoints: [],
    })
    expect(toSliceInfo({ metadata: { name: 'orphan', namespace: 'shop' }, endpoints: [] })).toBeUndefined()
  })
})
