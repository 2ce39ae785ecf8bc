import type { ServiceEndpoint, ServiceEntry } from '@podlink/core'
import { describe, expect, it } from 'vitest'
import { createManualTimers } from '../testing/manual-timers.ts'
import { EndpointBalancer } from './endpoint-balancer.ts'
import { endpointId, type PickInput, pickEndpoint } from './pick-endpoint.ts'

const ep = (ip: string, node: string, cls: ServiceEndpoint['class'], hintZones?: string[]): ServiceEndpoint => ({
  ip,
  port: 8080,
  node,
  class: cls,
  ...(hintZones ? { hintZones } : {}),
})
const entry = (endpoints: ServiceEndpoint[], affinity: ServiceEntry['sessionAffinity'] = 'None'): ServiceEntry => ({
  service: 'default/web',
  portName: 'http',
  clusterIP: '10.96.0.10',
  port: 80,
  protocol: 'tcp',
  endpoints,
  sessionAffinity: affinity,
  affinityTimeoutSeconds: 10800,
  offLan: true,
})
/** A Service with trafficDistribution: PreferClose. */
const close = (e: ServiceEntry): ServiceEntry => ({ ...e, preferClose: true })
const base: PickInput = {
  clientIP: '10.244.1.5',
  self: 'edge1-a',
  zone: null,
  now: 1000,
  failed: new Set(),
  penalized: new Set(),
  cursor: 0,
  affinity: null,
}
const local = ep('10.244.1.9', 'edge1-a', 'local')
const lan1 = ep('10.244.2.9', 'edge1-b', 'lan')
const lan2 = ep('10.244.3.9', 'edge1-c', 'lan')
const mesh1 = ep('10.244.8.9', 'edge2-a', 'mesh')
const mesh2 = ep('10.244.9.9', 'edge2-b', 'mesh')

describe('pickEndpoint', () => {
  const cases: Array<[string, ServiceEntry, Partial<PickInput>, string | null, string]> = [
    ['by default, round-robin over every tier (cursor 0)', entry([mesh1, lan1, local]), {}, mesh1.ip, 'mesh'],
    ['by default, round-robin over every tier (cursor 1)', entry([mesh1, lan1, local]), { cursor: 1 }, lan1.ip, 'lan'],
    [
      'by default, round-robin over every tier (cursor 2)',
      entry([mesh1, lan1, local]),
      { cursor: 2 },
      local.ip,
      'local',
    ],
    [
      'by default, a retry after a failure goes to the nearest',
      entry([mesh1, mesh2, lan1, local]),
      { failed: new Set([endpointId(local)]) },
      lan1.ip,
      'lan',
    ],
    ['PreferClose: this node first', close(entry([mesh1, lan1, local])), {}, local.ip, 'local'],
    [
      'an endpoint on self counts as local whatever its class',
      close(entry([mesh1, ep('10.244.1.7', 'edge1-a', 'lan')])),
      {},
      '10.244.1.7',
      'local',
    ],
    ['PreferClose: then the same LAN', close(entry([mesh1, lan1])), {}, lan1.ip, 'lan'],
    ['PreferClose: then other sites', close(entry([mesh1])), {}, mesh1.ip, 'mesh'],
    [
      'PreferClose: round-robin within the tier (cursor 1)',
      close(entry([mesh1, lan1, lan2])),
      { cursor: 1 },
      lan2.ip,
      'lan',
    ],
    ['round-robin wraps (cursor 2)', entry([lan1, lan2]), { cursor: 2 }, lan1.ip, 'lan'],
    [
      'a failed endpoint is skipped for the next',
      entry([lan1, lan2]),
      { failed: new Set([endpointId(lan1)]) },
      lan2.ip,
      'lan',
    ],
    [
      'a failed tier falls to the next tier',
      entry([local, mesh1]),
      { failed: new Set([endpointId(local)]) },
      mesh1.ip,
      'mesh',
    ],
    ['all failed: none', entry([lan1]), { failed: new Set([endpointId(lan1)]) }, null, ''],
    ['no endpoints: none', entry([]), {}, null, ''],
    [
      'penalized is avoided while others remain',
      entry([local, mesh1]),
      { penalized: new Set([endpointId(local)]) },
      mesh1.ip,
      'mesh',
    ],
    [
      'penalized is used when nothing else remains',
      entry([local]),
      { penalized: new Set([endpointId(local)]) },
      local.ip,
      'local',
    ],
    [
      'zone hints: hinted for our zone preferred',
      entry([ep('10.244.8.1', 'x', 'mesh', ['z1']), ep('10.244.8.2', 'y', 'mesh', ['z2'])]),
      { zone: 'z2' },
      '10.244.8.2',
      'mesh',
    ],
    [
      'zone hints ignored unless every endpoint has them',
      entry([ep('10.244.8.1', 'x', 'mesh'), ep('10.244.8.2', 'y', 'mesh', ['z2'])]),
      { zone: 'z2' },
      '10.244.8.1',
      'mesh',
    ],
    [
      'zone hints ignored when none names our zone',
      entry([ep('10.244.8.1', 'x', 'mesh', ['z1']), ep('10.244.8.2', 'y', 'mesh', ['z1'])]),
      { zone: 'z3', cursor: 1 },
      '10.244.8.2',
      'mesh',
    ],
    [
      'zone hints ignored when our zone is unknown',
      entry([ep('10.244.8.1', 'x', 'mesh', ['z1']), ep('10.244.8.2', 'y', 'mesh', ['z2'])]),
      { zone: null },
      '10.244.8.1',
      'mesh',
    ],
    [
      'affinity keeps the client on its endpoint, even across tiers',
      entry([local, mesh1], 'ClientIP'),
      { affinity: { endpoint: endpointId(mesh1), lastUsed: 0 } },
      mesh1.ip,
      'mesh',
    ],
    [
      'affinity expires after its timeout since the last use',
      entry([local, mesh1], 'ClientIP'),
      { affinity: { endpoint: endpointId(mesh1), lastUsed: 0 }, now: 10800 * 1000 },
      local.ip,
      'local',
    ],
    [
      'affinity to a failed endpoint is dropped',
      entry([local, mesh1], 'ClientIP'),
      { affinity: { endpoint: endpointId(mesh1), lastUsed: 0 }, failed: new Set([endpointId(mesh1)]) },
      local.ip,
      'local',
    ],
    [
      'affinity ignored when the Service has none',
      entry([local, mesh1]),
      { affinity: { endpoint: endpointId(mesh1), lastUsed: 0 } },
      local.ip,
      'local',
    ],
    [
      'affinity to an endpoint gone from the slice is dropped',
      entry([lan1], 'ClientIP'),
      { affinity: { endpoint: endpointId(mesh1), lastUsed: 0 } },
      lan1.ip,
      'lan',
    ],
  ]
  it.each(cases)('%s', (_name, e, input, ip, tier) => {
    const pick = pickEndpoint(e, { ...base, ...input })
    if (ip === null) expect(pick).toBeNull()
    else expect({ ip: pick?.endpoint.ip, tier: pick?.tier }).toEqual({ ip, tier })
  })

  it('formats IPv6 endpoint ids with brackets', () => {
    expect(endpointId({ ip: 'fd00::1', port: 80 })).toBe('[fd00::1]:80')
  })
})

describe('EndpointBalancer', () => {
  it('round-robins across flows', () => {
    const b = new EndpointBalancer({ self: 'edge1-a' }, createManualTimers())
    const e = entry([mesh1, mesh2])
    expect([1, 2, 3, 4].map(() => b.pick(e, '10.0.0.1')?.endpoint.ip)).toEqual([mesh1.ip, mesh2.ip, mesh1.ip, mesh2.ip])
  })

  it('keeps ClientIP affinity from the last use, and lets it lapse after the timeout', () => {
    const t = createManualTimers()
    const b = new EndpointBalancer({ self: 'edge1-a' }, t)
    const e = { ...entry([mesh1, mesh2], 'ClientIP'), affinityTimeoutSeconds: 10 }
    const first = b.pick(e, '10.0.0.1')!.endpoint.ip
    t.advance(9_000)
    expect(b.pick(e, '10.0.0.1')!.endpoint.ip).toBe(first)
    t.advance(9_000)
    b.touch(e, '10.0.0.1') // a flow ended now: the timeout runs from here
    t.advance(9_000)
    expect(b.pick(e, '10.0.0.1')!.endpoint.ip).toBe(first)
    t.advance(10_000)
    expect(b.pick(e, '10.0.0.1')!.by).toBe('round-robin')
  })

  it('bounds the affinity table', () => {
    const b = new EndpointBalancer({ self: 'edge1-a', maxAffinityEntries: 100 }, createManualTimers())
    const e = entry([mesh1, mesh2], 'ClientIP')
    for (let i = 0; i < 1000; i++) b.pick(e, `10.0.${i >> 8}.${i & 255}`)
    expect(b.affinityEntries).toBe(100)
  })

  it('tries a reported endpoint last until its penalty ends', () => {
    const t = createManualTimers()
    const b = new EndpointBalancer({ self: 'edge1-a', failurePenaltyMs: 5000 }, t)
    const e = close(entry([lan1, mesh1]))
    b.reportFailure(lan1)
    expect(b.pick(e, '10.0.0.1')!.endpoint.ip).toBe(mesh1.ip)
    t.advance(5000)
    expect(b.pick(e, '10.0.0.1')!.endpoint.ip).toBe(lan1.ip)
  })
})
