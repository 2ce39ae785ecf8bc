/**
 * One-stream throughput (MB/s = 1e6 B/s) and CPU over the three mesh paths, in one run of the meshlab topology
 * (packages/tunnel/src/testing/topologies/meshlab.yaml, routers with a userspace NFQUEUE delay):
 *   dialled direct: a-1 -> pub-1 (a NATed node dials a public one),
 *   punched:        a-1 -> b-1 after the mesh punched through both cone NATs,
 *   relayed:        a-1 -> b-1 over the relayed connection the mesh keeps beside the punched one.
 * Also prints the time from the first need to the punched path. Needs root (network namespaces).
 * Run: node packages/tunnel/bench/paths.bench.ts [--quick] [--no-delay]    CPU% = process.cpuUsage() over the transfer, % of one core.
 */
import { spawn, spawnSync } from 'node:child_process'
import { LAB, labDown, labUp, type MeshProc, PUBLIC_IP, setupArgs, startPeer } from '../src/testing/mesh-lab.ts'

/** The raw routed path between the same two hosts (a-1 -> pub-1 through a-1's NAT), by iperf3, for scale. */
async function rawIperf(seconds: number): Promise<{ mbps: number; senderCpuPct: number; receiverCpuPct: number }> {
  const server = spawn('ip', ['netns', 'exec', `${LAB}.pub-1`, 'iperf3', '-s', '-1', '-p', '5301'], { stdio: 'ignore' })
  await new Promise((r) => setTimeout(r, 300))
  const r = spawnSync(
    'ip',
    ['netns', 'exec', `${LAB}.a-1`, 'iperf3', '-c', PUBLIC_IP['pub-1']!, '-p', '5301', '-t', String(seconds), '-J'],
    { encoding: 'utf8' },
  )
  server.kill()
  const j = JSON.parse(r.stdout) as {
    end: {
      sum_received: { bits_per_second: number }
      cpu_utilization_percent: { host_total: number; remote_total: number }
    }
  }
  return {
    mbps: j.end.sum_received.bits_per_second / 8 / 1e6,
    senderCpuPct: j.end.cpu_utilization_percent.host_total,
    receiverCpuPct: j.end.cpu_utilization_percent.remote_total,
  }
}

const quick = process.argv.includes('--quick')
const BYTES = (quick ? 16 : 64) << 20
const RUNS = quick ? 1 : 3
const NODES = ['relay-1', 'relay-2', 'pub-1', 'a-1', 'b-1'] as const

const noDelay = process.argv.includes('--no-delay')
const { pskFile } = await labUp({ noDelay })
console.log(noDelay ? 'meshlab without router delays' : 'meshlab with router delays (a-1 <-> b-1 RTT ~50 ms)')
const procs: MeshProc[] = []
try {
  for (const node of NODES) procs.push(await startPeer({ node, pskFile, relayServer: node.startsWith('relay') }))
  for (const proc of procs) await proc.call('setup', setupArgs(procs, proc))
  const [, , pub, a, b] = procs as [MeshProc, MeshProc, MeshProc, MeshProc, MeshProc]
  for (const proc of [pub, a, b]) await proc.call('waitReserved', { count: 2, timeoutMs: 15_000 })
  const first = await a.call('connect', { peerId: b.peerId })
  const punched = await a.call('waitPath', { peerId: b.peerId, path: 'punched', timeoutMs: 10_000 })
  if (punched.ok !== true) throw new Error(`no punched path: ${JSON.stringify(punched)}`)
  console.log(
    `time to punched path: ${Number(first.ms) + Number(punched.ms)} ms after the first need (relayed after ${first.ms} ms)`,
  )
  const direct = await a.call('connect', { peerId: pub.peerId })
  if (direct.kind !== 'direct') throw new Error(`a-1 -> pub-1 is ${JSON.stringify(direct)}`)
  const cases: Array<[string, MeshProc, Record<string, unknown>]> = [
    ['dialled direct (a-1 -> pub-1)', a, { peerId: pub.peerId }],
    ['punched (a-1 -> b-1)', a, { peerId: b.peerId }],
    ['relayed (a-1 -> relay -> b-1)', a, { peerId: b.peerId, via: 'relay' }],
  ]
  console.log(`one stream, ${BYTES >> 20} MiB per run, ${RUNS} runs, median by MB/s`)
  for (const [label, from, args] of cases) {
    const runs: Array<Record<string, number>> = []
    for (let i = 0; i < RUNS; i++)
      runs.push((await from.call('bench', { ...args, bytes: BYTES }, 180_000)) as unknown as Record<string, number>)
    runs.sort((x, y) => (x.mbps ?? 0) - (y.mbps ?? 0))
    const m = runs[Math.floor(runs.length / 2)] ?? {}
    const all = runs.map((r) => (r.mbps ?? 0).toFixed(1)).join(', ')
    console.log(
      `${label.padEnd(32)} ${(m.mbps ?? 0).toFixed(1).padStart(6)} MB/s  sender CPU ${(m.senderCpuPct ?? 0).toFixed(0)}%  receiver CPU ${(m.receiverCpuPct ?? 0).toFixed(0)}%  (runs: ${all})`,
    )
  }
  const raw = await rawIperf(quick ? 2 : 4)
  console.log(
    `${'raw routed TCP (iperf3 a-1 -> pub-1)'.padEnd(32)} ${raw.mbps.toFixed(1).padStart(6)} MB/s  sender CPU ${raw.senderCpuPct.toFixed(0)}%  receiver CPU ${raw.receiverCpuPct.toFixed(0)}%  (same hosts, same run)`,
  )
} finally {
  for (const proc of procs) await proc.kill()
  labDown()
}
