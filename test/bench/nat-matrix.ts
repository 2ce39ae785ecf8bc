/**
 * The NAT matrix: for each pair of NAT types, RUNS times from fresh agents (both agents of the pair stopped and
 * started), one flow from the first node to a pod on the second, then the path the first node's agent settles on.
 * Success: the flow worked and the path is the one the NAT pair allows (TOPOLOGY.md "nat").
 * A run's path is final when it is direct or punched, or when it is relayed with a reason (punch skipped or
 * failed), or after WINDOW_MS.
 */
import { stopDaemon } from '../../packages/testlab/src/lab/daemons.ts'
import { startLabAgent, waitAgentReady } from '../../packages/testlab/src/lab/lab-agents.ts'
import type { Topology } from '../../packages/testlab/src/topology/topology.ts'
import { REPO } from '../lab/lab-cli.ts'
import { agentStatus, LAB, NODE, nsRun } from './bench-lab.ts'

interface Pair {
  readonly name: string
  readonly from: string
  readonly to: string
  readonly target: string
  readonly want: string
}

const PAIRS: readonly Pair[] = [
  { name: 'cone/cone', from: 'a-1', to: 'b-1', target: '10.244.3.2:8080', want: 'punched' },
  { name: 'cone/symmetric', from: 'a-1', to: 'c-1', target: '10.244.4.2:8080', want: 'relay' },
  { name: 'symmetric/symmetric', from: 'c-1', to: 'd-1', target: '10.244.5.2:8080', want: 'relay' },
  { name: 'static/cone', from: 's-1', to: 'a-1', target: '10.244.1.2:8080', want: 'direct' },
  { name: 'udp-blocked/cone', from: 'u-1', to: 'a-1', target: '10.244.1.2:8080', want: 'punched' },
]
const WINDOW_MS = 6000

export interface NatRun {
  readonly ok: boolean
  readonly flowOk: boolean
  readonly path: string
  readonly firstByteMs: number
  /** From the start of the first flow to the first status showing the final path. */
  readonly timeToPathMs: number
  readonly reason: string | null
}

export interface NatPairResult {
  readonly from: string
  readonly to: string
  readonly expected: string
  readonly runs: number
  readonly successRate: number
  readonly paths: Record<string, number>
  readonly timeToPathMsP50: number
  readonly timeToPathMsMax: number
  readonly firstByteMsP50: number
  readonly agentStartMsP50: number
  readonly failures: string[]
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : Math.round(s[Math.floor(s.length / 2)]!)
}

async function freshAgents(t: Topology, nodes: readonly string[]): Promise<number> {
  await Promise.all(nodes.map((n) => stopDaemon(LAB, `agent-${n}`, 'SIGTERM', 10_000)))
  const t0 = performance.now()
  for (const n of nodes) await startLabAgent(t, n)
  await Promise.all(nodes.map((n) => waitAgentReady(t, n, 60_000)))
  // Ready also means capture rules applied and listeners up (health.ready), not only a synced view.
  for (const n of nodes) {
    for (;;) {
      const s = await agentStatus(n).catch(() => null)
      if (s?.health.ready) break
      if (performance.now() - t0 > 60_000) throw new Error(`agent on ${n} not ready within 60 s`)
      await new Promise((r) => setTimeout(r, 25))
    }
  }
  return performance.now() - t0
}

async function oneRun(t: Topology, pair: Pair): Promise<NatRun & { startMs: number }> {
  const startMs = await freshAgents(t, [pair.from, pair.to])
  const flowStart = performance.now()
  let flowOk = false
  let firstByteMs = Number.NaN
  try {
    const out = nsRun(pair.from, [
      NODE,
      `${REPO}packages/testlab/src/probe/probe.ts`,
      pair.target,
      '--json',
      '--timeout',
      '5000',
    ])
    const summary = JSON.parse(out.trim().split('\n').pop() ?? '{}') as {
      ok: number
      results: Array<{ rttMs?: number }>
    }
    flowOk = summary.ok === 1
    firstByteMs = summary.results[0]?.rttMs ?? Number.NaN
  } catch {
    flowOk = false
  }
  let path = 'none'
  let since = Number.NaN
  let reason: string | null = null
  for (;;) {
    const elapsed = performance.now() - flowStart
    const peer = (await agentStatus(pair.from).catch(() => null))?.peers.find((p) => p.node === pair.to)
    const now = peer?.path ?? 'none'
    if (now !== path) {
      path = now
      since = elapsed
    }
    reason = peer?.reason ?? null
    const settled = path === 'direct' || path === 'punched' || (path === 'relay' && reason !== null && reason !== '-')
    if (settled || elapsed > WINDOW_MS) break
    await new Promise((r) => setTimeout(r, 25))
  }
  return { ok: flowOk && path === pair.want, flowOk, path, firstByteMs, timeToPathMs: since, reason, startMs }
}

export async function natMatrix(
  t: Topology,
  options: { runs: number; log: (line: string) => void },
): Promise<Record<string, NatPairResult>> {
  const out: Record<string, NatPairResult> = {}
  for (const pair of PAIRS) {
    const runs: Array<NatRun & { startMs: number }> = []
    for (let i = 0; i < options.runs; i++) runs.push(await oneRun(t, pair))
    const paths: Record<string, number> = {}
    for (const r of runs) paths[r.path] = (paths[r.path] ?? 0) + 1
    const ok = runs.filter((r) => r.ok)
    out[pair.name] = {
      from: pair.from,
      to: pair.to,
      expected: pair.want,
      runs: runs.length,
      successRate: ok.length / runs.length,
      paths,
      timeToPathMsP50: median(runs.map((r) => r.timeToPathMs)),
      timeToPathMsMax: Math.round(Math.max(...runs.map((r) => r.timeToPathMs).filter(Number.isFinite))),
      firstByteMsP50: median(runs.map((r) => r.firstByteMs)),
      agentStartMsP50: median(runs.map((r) => r.startMs)),
      failures: runs
        .filter((r) => !r.ok)
        .map((r) => `${r.flowOk ? 'flow ok' : 'flow failed'}, path ${r.path}${r.reason ? ` (${r.reason})` : ''}`),
    }
    const r = out[pair.name]!
    options.log(
      `nat ${pair.name}: ${Math.round(r.successRate * 100)}% of ${r.runs} on ${r.expected}; paths ${JSON.stringify(r.paths)}; path after ${r.timeToPathMsP50} ms (max ${r.timeToPathMsMax}); first byte ${r.firstByteMsP50} ms`,
    )
  }
  return out
}

export function renderNat(nat: Record<string, NatPairResult>): string {
  const rows = Object.entries(nat).map(
    ([name, r]) =>
      `${name.padEnd(20)} ${r.expected.padEnd(8)} ${`${Math.round(r.successRate * 100)}%`.padStart(5)} of ${String(r.runs).padStart(2)}  ${String(r.timeToPathMsP50).padStart(6)} ${String(r.timeToPathMsMax).padStart(6)}  ${String(r.firstByteMsP50).padStart(6)}  ${Object.entries(
        r.paths,
      )
        .map(([p, n]) => `${p} ${n}`)
        .join(', ')}`,
  )
  return [
    `${'pair'.padEnd(20)} ${'expected'.padEnd(8)} success       path ms (p50/max)  TTFB ms  final paths`,
    ...rows,
  ].join('\n')
}
