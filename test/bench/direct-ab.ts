/**
 * A/B of agent settings on podlink-direct (cli-a1 -> web-pub through the a-1 and pub-1 agents), in a bench lab left
 * up by `pnpm bench --keep`. Each variant is an environment for both agents (PODLINK_ENCRYPTER=noise,
 * NODE_OPTIONS=--cpu-prof ...); the variants take turns, ROUNDS times, the agents restarted for each turn.
 * Per turn: one-flow iperf3 (RUNS x SECONDS), 1 KiB request/response p50/p99, new connections per second.
 * Run: node test/bench/direct-ab.ts [--rounds N] [--runs N] [--seconds N] 'A:' 'B:PODLINK_ENCRYPTER=noise' ...
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { stopDaemon } from '../../packages/testlab/src/lab/daemons.ts'
import { startLabAgent, waitAgentReady } from '../../packages/testlab/src/lab/lab-agents.ts'
import { loadLabTopology } from '../../packages/testlab/src/lab/lab-status.ts'
import {
  agentPid,
  fastCounters,
  iperf,
  LAB,
  nsSpawn,
  pathOf,
  rrLoad,
  stopAll,
  waitFor,
  waitReady,
  withCpu,
} from './bench-lab.ts'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '2' },
    runs: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '3' },
  },
})
const variants = positionals.map((p) => {
  // NAME:K=V;K2=V2 (a value may hold spaces and colons: 'P:PODLINK_LAB_NODE_ARGS=--cpu-prof --cpu-prof-dir=/tmp/p')
  const colon = p.indexOf(':')
  const name = colon < 0 ? p : p.slice(0, colon)
  const envs =
    colon < 0
      ? []
      : p
          .slice(colon + 1)
          .split(';')
          .filter(Boolean)
  return {
    name,
    env: Object.fromEntries(envs.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
  }
})
const t = loadLabTopology(LAB)
const NODES = ['a-1', 'pub-1']

async function restart(env: Record<string, string>): Promise<void> {
  await Promise.all(NODES.map((n) => stopDaemon(LAB, `agent-${n}`, 'SIGTERM', 10_000)))
  const saved = { ...process.env }
  Object.assign(process.env, env)
  try {
    for (const n of NODES) await startLabAgent(t, n)
  } finally {
    for (const k of Object.keys(env)) {
      if (saved[k] === undefined) delete process.env[k]
      else process.env[k] = saved[k]
    }
  }
  for (const n of NODES) await waitAgentReady(t, n, 90_000)
  await waitReady(NODES, 90_000)
  rrLoad('cli-a1', ['conn', '10.244.10.2:8080', '4', '1'])
  await waitFor(20_000, async () => ((await pathOf('a-1', 'pub-1')) === 'direct' ? true : undefined))
}

nsSpawn('web-pub', ['iperf3', '-s', '-p', '5201'])
const results = new Map<string, Array<Record<string, number>>>()
try {
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const v of variants) {
      await restart(v.env)
      for (let i = 0; i < Number(values.runs); i++) {
        const before = await fastCounters('a-1', 'pub-1')
        const { value, cpuPct } = await withCpu(
          NODES.map((n) => agentPid(n)),
          () => iperf('cli-a1', '10.244.10.2', 5201, Number(values.seconds), 1),
        )
        const after = await fastCounters('a-1', 'pub-1')
        const rr = rrLoad('cli-a1', ['rr', '10.244.10.2:8080', '500', '1024'])
        const conn = rrLoad('cli-a1', ['conn', '10.244.10.2:8080', '100', '8'])
        const r = {
          mbps: value.mbps,
          cpuPct,
          p50Ms: rr['p50Ms']!,
          p99Ms: rr['p99Ms']!,
          connPerSec: conn['connPerSec']!,
          // iperf3's control and data connections: 2 = both on the fast channel
          fastTaken: after.taken - before.taken,
          fastMissed: after.missed - before.missed,
        }
        results.set(v.name, [...(results.get(v.name) ?? []), r])
        console.log(`round ${round + 1} ${v.name}: ${JSON.stringify(r)}`)
      }
    }
  }
} finally {
  await stopAll()
  await sleep(100)
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN
for (const [name, rs] of results) {
  const m = (k: string) => median(rs.map((r) => r[k] ?? Number.NaN))
  console.log(
    `${name.padEnd(16)} MB/s ${m('mbps').toFixed(1)} (${rs.map((r) => r['mbps']).join(', ')})  CPU ${m('cpuPct')}%  CPU s/GB ${((m('cpuPct') * 10) / m('mbps')).toFixed(2)}  p50 ${m('p50Ms')} ms  p99 ${m('p99Ms')} ms  ${m('connPerSec')} conn/s`,
  )
}
