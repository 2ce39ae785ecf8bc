/**
 * Summarises a `node --cpu-prof` profile: self time by function and by package, as % of non-idle samples.
 * Run: node test/bench/profile-summary.ts FILE.cpuprofile [TOP]
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
}
const [file, topArg] = process.argv.slice(2)
const prof = JSON.parse(readFileSync(file ?? '', 'utf8')) as {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}
const byId = new Map(prof.nodes.map((n) => [n.id, n]))
const self = new Map<number, number>()
prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)))
const pkg = (url: string): string => {
  const m = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m) return m[1]!
  if (url.startsWith('node:')) return url
  if (url.includes('/packages/')) return `podlink ${url.split('/packages/')[1]?.split('/')[0]}`
  if (url.includes('podlink-agent.mjs')) return 'podlink-agent.mjs'
  return url === '' ? '(native)' : url
}
const fn = new Map<string, number>()
const pk = new Map<string, number>()
let total = 0
for (const [id, t] of self) {
  const n = byId.get(id)!
  const name = n.callFrame.functionName || '(anonymous)'
  if (name === '(idle)' || name === '(program)') continue
  total += t
  const key = `${name} ${pkg(n.callFrame.url)}:${n.callFrame.lineNumber}`
  fn.set(key, (fn.get(key) ?? 0) + t)
  pk.set(pkg(n.callFrame.url), (pk.get(pkg(n.callFrame.url)) ?? 0) + t)
}
const top = (m: Map<string, number>, k: number): string =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([name, t]) => `${((t / total) * 100).toFixed(1).padStart(5)}%  ${name}`)
    .join('\n')
console.log(
  `non-idle ${(total / 1e6).toFixed(2)} s\nby function:\n${top(fn, Number(topArg ?? 25))}\nby package:\n${top(pk, 15)}`,
)
