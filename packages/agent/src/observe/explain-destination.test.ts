import type { CaptureDecision } from '@podlink/core'
import { describe, expect, it } from 'vitest'
import { explainDestination, parseDestination } from './explain-destination.ts'
import { observeFixture as s } from './testing/observe-fixture.ts'

const CAPTURED: CaptureDecision = {
  captured: true,
  via: 'redirect',
  rule: '-A PODLINK-SERVICES -j REDIRECT',
  port: 15001,
  reason: 'default/web:http',
}
const MISSED: CaptureDecision = { captured: false, reason: 'no podlink rule matched' }

describe('parseDestination', () => {
  it.each([
    ['10.0.0.5', { ip: '10.0.0.5', port: null, protocol: 'tcp' }],
    ['10.0.0.5:80', { ip: '10.0.0.5', port: 80, protocol: 'tcp' }],
    ['10.0.0.5:53/udp', { ip: '10.0.0.5', port: 53, protocol: 'udp' }],
    ['10.0.0.5/udp', { ip: '10.0.0.5', port: null, protocol: 'udp' }],
    ['fd00::5', { ip: 'fd00::5', port: null, protocol: 'tcp' }],
    ['[fd00::5]:443/tcp', { ip: 'fd00::5', port: 443, protocol: 'tcp' }],
  ])('%s', (text, want) => expect(parseDestination(text)).toEqual(want))

  it.each(['', 'web', '10.0.0.5:0', '10.0.0.5:70000', '10.0.0.5:80/sctp', '10.0.0.5:80/udp/x', '300.1.1.1'])(
    'refuses %j with ERR_BAD_DESTINATION',
    (text) => expect(() => parseDestination(text)).toThrow(expect.objectContaining({ code: 'ERR_BAD_DESTINATION' })),
  )
})

describe('explainDestination', () => {
  it('a captured ClusterIP lists every endpoint with the path it would take', () => {
    const t = explainDestination(s, parseDestination('10.96.0.20:80'), CAPTURED)
    expect(t).toMatchObject({ kind: 'service', destination: '10.96.0.20:80/tcp', broken: false, capture: CAPTURED })
    expect(t.hops.map((h) => [h.target, h.class, h.path])).toEqual([
      ['10.244.1.7:8080', 'local', null],
      ['10.244.3.9:8080', 'mesh', 'direct'],
    ])
    expect(t.verdict).toMatch(/captured; the proxy picks one of 2\/2/)
  })

  it('an off-LAN ClusterIP the rules do not capture is broken (rules out of sync)', () => {
    const t = explainDestination(s, parseDestination('10.96.0.20:80'), MISSED)
    expect(t.broken).toBe(true)
    expect(t.verdict).toMatch(/NOT captured/)
  })

  it('a ClusterIP whose only endpoint has no path is broken, with the peer reason', () => {
    const t = explainDestination(s, parseDestination('10.96.0.40:9000'), CAPTURED)
    expect(t.broken).toBe(true)
    expect(t.hops[0]).toMatchObject({ path: 'none', node: 'edge-c2' })
    expect(t.hops[0]!.reason).toMatch(/no relay reservation/)
  })

  it('an all-LAN ClusterIP is left to kube-proxy', () => {
    const t = explainDestination(s, parseDestination('10.96.0.10:53/udp'), MISSED)
    expect(t).toMatchObject({ kind: 'service', broken: false })
    expect(t.verdict).toMatch(/kube-proxy carries it/)
  })

  it('a ClusterIP asked on a port it does not serve is broken', () => {
    expect(explainDestination(s, parseDestination('10.96.0.20:81'), MISSED)).toMatchObject({
      kind: 'service',
      broken: true,
    })
  })

  it.each([
    ['10.244.1.9:80', 'pod', 'local', null, false, /delivered locally/],
    ['10.244.2.9:80', 'pod', 'lan', 'lan', false, /flannel/],
    ['10.244.3.9:80', 'pod', 'mesh', 'direct', false, /over the mesh to edge-b1 \(direct\)/],
    ['10.244.5.4:9000', 'pod', 'mesh', 'relay', false, /relay via edge-b1/],
    ['10.244.7.4:9000', 'pod', 'mesh', 'none', true, /no path to edge-c2/],
    ['10.244.6.1:80', 'pod', 'conflict', null, true, /not routed/],
    ['[fd00:10:244:3::9]:80', 'pod', 'mesh', 'direct', false, /edge-b1/],
    ['192.168.1.1:22', 'unknown', 'none', null, false, /left to the node routing table/],
  ] as const)('%s: %s via %s (%s)', (dst, kind, cls, path, broken, verdict) => {
    const t = explainDestination(s, parseDestination(dst), CAPTURED)
    expect(t.kind).toBe(kind)
    expect(t.hops[0]).toMatchObject({ class: cls, path })
    expect(t.broken).toBe(broken)
    expect(t.verdict).toMatch(verdict)
  })

  it('a pod on another site that the rules miss is broken', () => {
    expect(explainDestination(s, parseDestination('10.244.3.9:80'), MISSED).broken).toBe(true)
  })
})
