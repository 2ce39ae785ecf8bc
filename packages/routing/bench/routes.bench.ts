/**
 * How long routing takes on a large cluster. Prints the median of several runs of:
 * - a full computation for a 5,000-node dual-stack view with 2,000 Services (target < 100 ms);
 * - the same after one node changed (target < 5 ms).
 * Run: node packages/routing/bench/routes.bench.ts
 */
import { computeRouting } from '../src/index.ts'
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

const table = computeRouting({ view, self, lanPeers })
console.log(
  `view: ${NODES} nodes, ${SERVICES} services -> ${table.routes.length} routes, ${table.services.length} service entries, ${table.conflicts.length} conflicts`,
)
console.log(`full recompute, cold (first sight of every Node): ${cold.toFixed(2)} ms`)
console.log(`full recompute, median of ${RUNS}: ${median(full).toFixed(2)} ms (target < 100 ms)`)
console.log(`one node changed, computeRouting, median of ${RUNS}: ${median(oneNode).toFixed(2)} ms (target < 5 ms)`)
