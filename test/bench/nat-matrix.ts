/**
 * The NAT matrix: for each pair of NAT types, RUNS times from fresh agents (both agents of the pair stopped and
 * started), one flow from the first node to a pod on the second, then the path the first node's agent settles on.
 * Success: a flow worked and the path is the one the NAT pair allows (TOPOLOGY.md "nat"), within WINDOW_MS of
 * both agents being ready. A run's path is final when it is direct or punched, or relayed with a reason (punch
 * skipped or failed). Also recorded: whether the very first flow after readiness worked.
 */

import { setTimeout as sleep } from 'node:timers/promises'
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
/** A run that has no working flow and final path this long after both agents are ready has failed. */
const WINDOW_MS = 15_000
const PROBE = `${REPO}packages/testlab/src/probe/probe.ts`

export interface NatRun {
  readonly ok: boolean
  readonly flowOk: boolean
  /** The very first flow after both agents were ready worked. */
  readonly firstFlowOk: boolean
  /** From both agents ready to the first flow that worked. */
  readonly flowOkMs: number
  readonly path: string
  readonly firstByteMs: number
  /** From both agents ready to the first status showing the final path. */
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
  readonly firstFlowOkRate: number
  readonly workingFlowMsP50: number
  readonly agentStartMsP50: number
  readonly failures: string[]
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : Math.round(s[Math.floor(s.length / 2)]!)
}

/** Kills the pair's agents (a crash: quicker than a graceful stop, and the new agents resync the rules) and starts them. */
const maxOf = (xs: readonly number[]): number => {
  const f = xs.filter(Number.isFinite)
  return f.length === 0 ? Number.NaN : Math.round(Math.max(...f))
}

async function freshAgents(t: Topology, nodes: readonly string[]): Promise<number> {
  await Promise.all(nodes.map((n) => stopDaemon(LAB, `agent-${n}`, 'SIGKILL', 2000)))
  const t0 = performance.now()
  for (const n of nodes) await startLabAgent(t, n)
  await Promise.all(nodes.map((n) => waitAgentReady(t, n, 150_000)))
  // Ready also means capture rules applied and listeners up (health.ready), not only a synced view.
  for (const n of nodes) {
    for (;;) {
      const s = await agentStatus(n).catch(() => null)
      if (s?.health.ready) break
      if (performance.now() - t0 > 150_000) throw new Error(`agent on ${n} not ready within 150 s`)
      await sleep(25)
    }
  }
  return performance.now() - t0
}

function probeOnce(pair: Pair, timeoutMs: number): { ok: boolean; rttMs: number } {
  try {
    const out = nsRun(pair.from, [NODE, PROBE, pair.target, '--json', '--timeout', String(timeoutMs)])
    const summary = JSON.parse(out.trim().split('\n').pop() ?? '{}') as {
      ok: number
      results: Array<{ rttMs?: number }>
    }
    return { ok: summary.ok === 1, rttMs: summary.results[0]?.rttMs ?? Number.NaN }
  } catch {
    return { ok: false, rttMs: Number.NaN }
  }
}

/**
 * One run: fresh agents; from their readiness, flows (3 s timeout each) until one succeeds, then the path the first
 * node's agent reports until it is final. Times are from both agents ready.
 */
async function oneRun(t: Topology, pair: Pair): Promise<NatRun & { startMs: number }> {
  const startMs = await freshAgents(t, [pair.from, pair.to])
  const t0 = performance.now()
  const first = probeOnce(pair, 3000)
  let flowOk = first.ok
  let flowOkMs = first.ok ? performance.now() - t0 : Number.NaN
  while (!flowOk && performance.now() - t0 < WINDOW_MS) {
    flowOk = probeOnce(pair, 3000).ok
    if (flowOk) flowOkMs = performance.now() - t0
  }
  let path = 'none'
  let since = Number.NaN
  let reason: string | null = null
  for (;;) {
    const elapsed = performance.now() - t0
    const peer = (await agentStatus(pair.from).catch(() => null))?.peers.find((p) => p.node === pair.to)
    const now = peer?.path ?? 'none'
    if (now !== path) {
      path = now
      since = elapsed
    }
    reason = peer?.reason ?? null
    const settled = path === 'direct' || path === 'punched' || (path === 'relay' && reason !== null && reason !== '-')
    if ((settled && flowOk) || elapsed > WINDOW_MS) break
    await sleep(25)
  }
  return {
    ok: flowOk && path === pair.want,
    flowOk,
    firstFlowOk: first.ok,
    firstByteMs: first.rttMs,
    flowOkMs,
    path,
    timeToPathMs: since,
    reason,
    startMs,
  }
}

export async function natMatrix(
  t: Topology,
  options: { runs: number; log: (line: string) => void },
): Promise<Record<string, NatPairResult>> {
  const out: Record<string, NatPairResult> = {}
  for (const pair of PAIRS) {
    const runs: Array<NatRun & { startMs: number }> = []
    for (let i = 0; i < options.runs; i++) {
      try {
        runs.push(await oneRun(t, pair))
      } catch (err) {
        // An agent that does not come up is a failed run of this pair, not a failed bench.
        const reason = (err as Error).message
        runs.push({
          ok: false,
          flowOk: false,
          firstFlowOk: false,
          flowOkMs: Number.NaN,
          firstByteMs: Number.NaN,
          path: 'none',
          timeToPathMs: Number.NaN,
          reason,
          startMs: Number.NaN,
        })
      }
    }
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
      timeToPathMsMax: maxOf(runs.map((r) => r.timeToPathMs)),
      firstByteMsP50: median(runs.map((r) => r.firstByteMs)),
      firstFlowOkRate: runs.filter((r) => r.firstFlowOk).length / runs.length,
      workingFlowMsP50: median(runs.map((r) => r.flowOkMs)),
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
  const head = [
    'pair',
    'expected',
    'success',
    'runs',
    'path ms p50',
    'max',
    '1st flow ok',
    'working flow ms',
    'final paths',
  ]
  const rows = Object.entries(nat).map(([name, r]) => [
    name,
    r.expected,
    `${Math.round(r.successRate * 100)}%`,
    String(r.runs),
    String(r.timeToPathMsP50),
    String(r.timeToPathMsMax),
    `${Math.round(r.firstFlowOkRate * 100)}%`,
    String(r.workingFlowMsP50),
    Object.entries(r.paths)
      .map(([p, n]) => `${p} ${n}`)
      .join(', '),
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)))
  return [head, ...rows].map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n')
}
