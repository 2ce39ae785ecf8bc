/**
 * How long routing takes on a large cluster. Prints the median of several runs of:
 * - a full computation for a 5,000-node dual-stack view with 2,000 Services (target < 100 ms);
 * - one node changed in that view, recomputed in full with computeRouting, and applied to a RoutingState
 *   (target < 5 ms; the full recompute is O(cluster), RoutingState is O(what the node touches)).
 * Run: node packages/routing/bench/routes.bench.ts
 */
import { computeRouting, RoutingState } from '../src/index.ts'
import { makeLargeView, makeNode, withNode } from '../src/testing/index.ts'

const NODES = 5000
const SERVICES = 2000
const RUNS = 15

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

function time(fn: () => void): number {
  const t0 = performance.now()
  fn()
  return performance.now() - t0
}

const view = makeLargeView(NODES, SERVICES)
const self = 'node-00000'
const lanPeers = new Set<string>()
for (let i = 1; i < 50; i++) lanPeers.add(`node-${String(i).padStart(5, '0')}`)

// Cold: the first computation also validates every Node (results are memoised by object identity).
const cold = time(() => computeRouting({ view, self, lanPeers }))
const full: number[] = []
for (let i = 0; i < RUNS; i++) full.push(time(() => computeRouting({ view, self, lanPeers })))

const oneNode: number[] = []
let current = view
for (let i = 0; i < RUNS; i++) {
  const name = `node-${String(1000 + i).padStart(5, '0')}`
  const changed = makeNode(name, { podCIDRs: [`10.3.${i}.0/24`], lan: `site-${i}` })
  current = withNode(current, changed)
  const next = current
  oneNode.push(time(() => computeRouting({ view: next, self, lanPeers })))
}

// RoutingState: build once, then one informer event at a time; reading `table` is part of the cost.
const build = time(() => void new RoutingState({ view, self, lanPeers }).table)
const state = new RoutingState({ view, self, lanPeers })
void state.table
const incremental: number[] = []
const kinds = ['podCIDR moved', 'LAN label changed', 'node deleted', 'node re-added'] as const
for (let i = 0; i < RUNS * 4; i++) {
  const n = 2000 + Math.floor(i / 4)
  const name = `node-${String(n).padStart(5, '0')}`
  const kind = kinds[i % 4]!
  incremental.push(
    time(() => {
      if (kind === 'podCIDR moved')
        state.apply({
          kind: 'node',
          node: makeNode(name, { podCIDRs: [`10.4.${n & 0xff}.0/24`], lan: `site-${Math.floor(n / 50)}` }),
        })
      else if (kind === 'LAN label changed')
        state.apply({ kind: 'node', node: makeNode(name, { podCIDRs: [`10.4.${n & 0xff}.0/24`], lan: 'site-0' }) })
      else if (kind === 'node deleted') state.apply({ kind: 'node-deleted', name })
      else state.apply({ kind: 'node', node: view.nodes.get(name)! })
      void state.table
    }),
  )
}

const table = computeRouting({ view, self, lanPeers })
console.log(
  `view: ${NODES} nodes, ${SERVICES} services -> ${table.routes.length} routes, ${table.services.length} service entries, ${table.conflicts.length} conflicts`,
)
console.log(`full recompute, cold (first sight of every Node): ${cold.toFixed(2)} ms`)
console.log(`full recompute, median of ${RUNS}: ${median(full).toFixed(2)} ms (target < 100 ms)`)
console.log(`one node changed, full computeRouting, median of ${RUNS}: ${median(oneNode).toFixed(2)} ms`)
console.log(`RoutingState build: ${build.toFixed(2)} ms`)
console.log(
  `one node changed, RoutingState.apply + table, median of ${incremental.length}: ${median(incremental).toFixed(3)} ms, p90 ${[...incremental].sort((a, b) => a - b)[Math.floor(incremental.length * 0.9)]!.toFixed(3)} ms, max ${Math.max(...incremental).toFixed(3)} ms (target < 5 ms)`,
)
