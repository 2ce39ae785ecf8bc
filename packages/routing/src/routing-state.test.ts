import type { EndpointInfo, NodeInfo } from '@podlink/core'
import { describe, expect, it } from 'vitest'
import { computeRouting } from './compute-routing.ts'
import { RoutingState, type ViewChange } from './routing-state.ts'
import { fakePeerId, makeEndpoint, makeNode, makeService, makeView } from './testing/index.ts'

/** A small deterministic PRNG, so a failing sequence can be replayed from its seed. */
function prng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1
  return (n) => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) % n
  }
}

// Small pools so that clashes, nesting, shared peer IDs, labels and unnamed endpoints keep happening.
const NAMES = ['self', 'a', 'b', 'c', 'd', 'e', 'f']
const CIDRS = [
  '10.244.0.0/16',
  '10.244.1.0/24',
  '10.244.2.0/24',
  '10.244.2.0/25',
  '10.245.0.0/24',
  'fd00::/48',
  'fd00:0:0:1::/64',
  'bad/99',
]
const LANS = [undefined, 'x', 'y']
const PEERS = [null, 'p1', 'p2', 'p3', 'p4', 'garbage!']

function randomNode(r: (n: number) => number, name: string): NodeInfo {
  const podCIDRs = Array.from({ length: r(3) }, () => CIDRS[r(CIDRS.length)]!)
  const peer = PEERS[r(PEERS.length)]!
  const lan = LANS[r(LANS.length)]
  return makeNode(name, {
    podCIDRs,
    peerId: peer === null || peer === 'garbage!' ? peer : fakePeerId(peer),
    ...(lan === undefined ? {} : { lan }),
  })
}

function randomEndpoints(r: (n: number) => number): EndpointInfo[] {
  return Array.from({ length: r(4) }, () => {
    const ip = ['10.244.1.7', '10.244.2.9', '10.244.2.200', '10.245.0.3', 'fd00:0:0:1::5', '172.16.0.1'][r(6)]!
    const named = r(3) > 0
    return makeEndpoint(ip, { ready: r(4) > 0, ...(named ? { nodeName: NAMES[r(NAMES.length)]! } : {}) })
  })
}

function randomChange(r: (n: number) => number): ViewChange {
  const key = `ns/svc-${r(4)}`
  switch (r(6)) {
    case 0:
    case 1:
      return { kind: 'node', node: randomNode(r, NAMES[r(NAMES.length)]!) }
    case 2:
      return { kind: 'node-deleted', name: NAMES[r(NAMES.length)]! }
    case 3:
      return r(4) === 0
        ? { kind: 'service-deleted', key }
        : {
            kind: 'service',
            key,
            service: makeService(key, { clusterIPs: r(5) === 0 ? [] : ['10.96.0.1', 'fd00:96::1'] }),
          }
    default:
      return r(5) === 0 ? { kind: 'endpoints-deleted', key } : { kind: 'endpoints', key, endpoints: randomEndpoints(r) }
  }
}

describe('RoutingState', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])('equals computeRouting after every change (seed %i)', (seed) => {
    const r = prng(seed)
    const kubeProxy = seed % 2 === 0
    let lanPeers = new Set<string>(['a'])
    const state = new RoutingState({
      view: makeView({ nodes: [makeNode('self', { podCIDRs: ['10.244.9.0/24'] })] }),
      self: 'self',
      lanPeers,
      kubeProxy,
    })
    for (let step = 0; step < 150; step++) {
      if (r(10) === 0) {
        lanPeers = new Set(NAMES.filter(() => r(2) === 0))
        state.setLanPeers(lanPeers)
      } else {
        state.apply(randomChange(r))
      }
      const oracle = computeRouting({ view: state.view, self: 'self', lanPeers, kubeProxy })
      expect(state.table, `seed ${seed}, step ${step}`).toEqual(oracle)
    }
  })

  it('starts equal to computeRouting on a given view and answers describeRoute', () => {
    const view = makeView({
      nodes: [
        makeNode('self', { podCIDRs: ['10.244.1.0/24'], lan: 'x' }),
        makeNode('a', { podCIDRs: ['10.244.2.0/24'], lan: 'x' }),
        makeNode('b', { podCIDRs: ['10.244.3.0/24'] }),
      ],
      services: { 'ns/web': { clusterIPs: ['10.96.0.5'], endpoints: [makeEndpoint('10.244.3.4', { nodeName: 'b' })] } },
    })
    const state = new RoutingState({ view, self: 'self', lanPeers: new Set() })
    expect(state.table).toEqual(computeRouting({ view, self: 'self', lanPeers: new Set() }))
    expect(state.describeRoute('10.244.2.1')?.class).toBe('lan')
    state.apply({ kind: 'node', node: makeNode('a', { podCIDRs: ['10.244.2.0/24'], lan: 'y' }) })
    expect(state.describeRoute('10.244.2.1')?.class).toBe('mesh')
    expect(state.table.services[0]?.offLan).toBe(true)
  })

  it("rebuilds when this node's own LAN label changes", () => {
    const view = makeView({
      nodes: [
        makeNode('self', { podCIDRs: ['10.244.1.0/24'], lan: 'x' }),
        makeNode('a', { podCIDRs: ['10.244.2.0/24'], lan: 'y' }),
      ],
    })
    const state = new RoutingState({ view, self: 'self', lanPeers: new Set() })
    expect(state.describeRoute('10.244.2.1')?.class).toBe('mesh')
    state.apply({ kind: 'node', node: makeNode('self', { podCIDRs: ['10.244.1.0/24'], lan: 'y' }) })
    expect(state.describeRoute('10.244.2.1')?.class).toBe('lan')
    expect(state.table).toEqual(computeRouting({ view: state.view, self: 'self', lanPeers: new Set() }))
  })
})
