import { describe, expect, it } from 'vitest'
import { exampleTables } from '../testing/example-tables.ts'
import { computeRuleset } from './compute-ruleset.ts'
import { type TracedPacket, tracePacket } from './trace-packet.ts'

const withKubeProxy = computeRuleset(exampleTables(), { kubeProxy: true })
const withoutKubeProxy = computeRuleset(exampleTables(), { kubeProxy: false })

describe('tracePacket', () => {
  const cases: Array<{
    name: string
    p: TracedPacket
    via: 'redirect' | null
    udp?: boolean
    kp?: boolean
    why?: RegExp
  }> = [
    {
      name: 'same-LAN pod IP, TCP',
      p: { dst: '10.244.2.7', dport: 80, proto: 'tcp', hook: 'prerouting' },
      via: null,
      why: /same-LAN.*10\.244\.2\.0\/24/,
    },
    {
      name: 'same-LAN pod IP, UDP from the host',
      p: { dst: '10.244.2.7', dport: 53, proto: 'udp', hook: 'output' },
      via: null,
      why: /lan pod CIDR of edge1-b/,
    },
    { name: 'local pod IP', p: { dst: '10.88.0.5', dport: 80, proto: 'tcp', hook: 'output' }, via: null },
    {
      name: 'conflicting CIDR',
      p: { dst: '10.244.66.1', dport: 80, proto: 'tcp', hook: 'prerouting' },
      via: null,
      why: /conflict/,
    },
    {
      name: 'off-LAN pod IP, TCP from a pod',
      p: { dst: '10.244.9.10', dport: 8080, proto: 'tcp', hook: 'prerouting' },
      via: 'redirect',
    },
    {
      name: 'off-LAN pod IP, TCP from the host',
      p: { dst: '10.244.9.10', dport: 8080, proto: 'tcp', hook: 'output' },
      via: 'redirect',
    },
    {
      name: 'off-LAN pod IP, UDP from a pod',
      p: { dst: '10.244.9.10', dport: 5300, proto: 'udp', hook: 'prerouting' },
      via: 'redirect',
      udp: true,
    },
    {
      name: 'off-LAN pod IP, UDP from the host',
      p: { dst: '10.244.12.3', dport: 5300, proto: 'udp', hook: 'output' },
      via: 'redirect',
      udp: true,
    },
    {
      name: 'off-LAN pod IPv6, TCP',
      p: { dst: 'fd44::10', dport: 443, proto: 'tcp', hook: 'prerouting' },
      via: 'redirect',
    },
    {
      name: 'off-LAN pod IPv6, UDP',
      p: { dst: 'fd44::10', dport: 53, proto: 'udp', hook: 'output' },
      via: 'redirect',
      udp: true,
    },
    {
      name: 'ClusterIP with an off-LAN endpoint, TCP',
      p: { dst: '10.96.0.10', dport: 80, proto: 'tcp', hook: 'prerouting' },
      via: 'redirect',
      why: /default\/web/,
    },
    {
      name: 'ClusterIP with an off-LAN endpoint, UDP',
      p: { dst: '10.96.0.10', dport: 53, proto: 'udp', hook: 'output' },
      via: 'redirect',
      udp: true,
    },
    {
      name: 'ClusterIP with an off-LAN endpoint, UDP from a pod',
      p: { dst: '10.96.0.10', dport: 53, proto: 'udp', hook: 'prerouting' },
      via: 'redirect',
      udp: true,
      why: /default\/dns/,
    },
    {
      name: 'ClusterIP UDP port that the Service only has for TCP',
      p: { dst: '10.96.0.10', dport: 80, proto: 'udp', hook: 'prerouting' },
      via: null,
    },
    {
      name: 'ClusterIP IPv6 with an off-LAN endpoint',
      p: { dst: 'fd96::10', dport: 80, proto: 'tcp', hook: 'output' },
      via: 'redirect',
    },
    {
      name: 'ClusterIP port not in the Service',
      p: { dst: '10.96.0.10', dport: 81, proto: 'tcp', hook: 'prerouting' },
      via: null,
    },
    {
      name: 'ClusterIP with LAN endpoints only, kube-proxy runs',
      p: { dst: '10.96.0.20', dport: 80, proto: 'tcp', hook: 'prerouting' },
      via: null,
      why: /kube-proxy/,
    },
    {
      name: 'ClusterIP with LAN endpoints only, no kube-proxy',
      p: { dst: '10.96.0.20', dport: 80, proto: 'tcp', hook: 'prerouting' },
      via: 'redirect',
      kp: false,
      why: /no kube-proxy/,
    },
    {
      name: 'ClusterIP with LAN endpoints only, UDP, no kube-proxy',
      p: { dst: '10.96.0.20', dport: 53, proto: 'udp', hook: 'output' },
      via: 'redirect',
      udp: true,
      kp: false,
    },
    {
      name: "the agent's own TCP (bypass mark)",
      p: { dst: '10.244.9.10', dport: 80, proto: 'tcp', hook: 'output', mark: 0x2000 },
      via: null,
      why: /agent's own/,
    },
    {
      name: "the agent's own UDP (bypass mark plus a kube-proxy bit)",
      p: { dst: '10.96.0.10', dport: 53, proto: 'udp', hook: 'output', mark: 0x6000 },
      via: null,
      why: /agent's own/,
    },
    {
      name: 'kube-proxy masquerade mark alone does not bypass',
      p: { dst: '10.244.9.10', dport: 80, proto: 'tcp', hook: 'prerouting', mark: 0x4000 },
      via: 'redirect',
    },
  ]
  for (const c of cases) {
    it(c.name, () => {
      const r = tracePacket(c.kp === false ? withoutKubeProxy : withKubeProxy, c.p)
      if (c.via === null) expect(r.captured).toBe(false)
      else {
        expect(r).toMatchObject({ captured: true, via: 'redirect', port: c.udp ? 15002 : 15001 })
        if (r.captured)
          expect(r.rule).toMatch(
            c.udp ? /^-A PODLINK-\S+ -p udp .*-j REDIRECT --to-ports 15002$/ : /-p tcp .*-j REDIRECT --to-ports 15001$/,
          )
      }
      if (c.why) expect(r.reason).toMatch(c.why)
    })
  }
})
