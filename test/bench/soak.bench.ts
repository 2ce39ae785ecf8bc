// Soak (issue 9): 10 minutes (`--quick`: 1) of mixed TCP and UDP with connection churn over every path (same LAN,
// dialled, punched, relayed) on the fault suite's cluster, brought up as lab `soak`. Long-lived flows carry
// pattern-checked bytes both ways the whole time; every second each site opens short checked TCP flows and UDP
// exchanges on every path. Every 15 s it samples each agent's RSS, open file descriptors and flow table.
// Fails on any corrupted or lost byte; on RSS / fd / flow-table growth past the bounds below between the first and
// the last third of the steady state (after a 90 s warm-up: UDP associations idle out at 60 s, so the tables fill
// for a minute; a 1-minute --quick run has no steady state to compare); on flows still open, or more fds than at
// the start plus the bound, 70 s after the traffic stopped.
process.env.PODLINK_FAULTS_LAB ??= 'soak'
const { readFileSync, readdirSync } = await import('node:fs')
const { labCli } = await import('../lab/lab-cli.ts')
const { sleep } = await import('../faults/fault-harness.ts')
const { faultsLabUp, LAB, NODES, POD, settlePaths, standardTraffic, status } = await import('../faults/faults-lab.ts')

const quick = process.argv.includes('--quick')
const DURATION_MS = (quick ? 1 : 10) * 60_000
const SAMPLE_MS = 15_000
const WARMUP_MS = 90_000
/** Growth allowed between the first and the last third: V8 heaps settle in steps, a leak grows without end. */
const BOUNDS = { rssMiB: 64, fds: 64, flows: 300 }

interface Sample {
  readonly at: number
  readonly node: string
  readonly rssMiB: number
  readonly fds: number
  readonly flows: number
}

function agentPid(node: string): number {
  return Number(readFileSync(`/run/podlink-lab/${LAB}/pids/agent-${node}.pid`, 'utf8').trim())
}
async function sampleAll(): Promise<Sample[]> {
  const at = Date.now()
  return Promise.all(
    NODES.map(async (node) => {
      const pid = agentPid(node)
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
      const s = await status(node)
      return {
        at,
        node,
        rssMiB: Number(rss?.[1] ?? 0) / 1024,
        fds: readdirSync(`/proc/${pid}/fd`).length,
        flows: s.flows.length,
      }
    }),
  )
}

const churnTargets = {
  'web-a': [
    ['lan', 'web-a2'],
    ['punched', 'web-b'],
    ['direct', 'web-r2'],
    ['direct', 'web-r1'],
  ],
  'web-c': [
    ['relay', 'web-a'],
    ['relay', 'web-b'],
    ['direct', 'web-r1'],
  ],
} as const

let failed = false
try {
  faultsLabUp()
  await settlePaths()
  const pids = Object.fromEntries(NODES.map((n) => [n, agentPid(n)]))
  const keepers = await standardTraffic()
  const byHost = Object.fromEntries(keepers.map((k) => [k.host, k]))
  const started = Date.now()
  const samples: Sample[] = [...(await sampleAll())]
  const churn = { flows: 0, ok: 0, corrupt: 0, errors: new Map<string, number>() }
  let nextSample = started + SAMPLE_MS
  while (Date.now() - started < DURATION_MS) {
    const round = Object.entries(churnTargets).flatMap(([from, targets]) =>
      targets.flatMap(([, to]) => [
        byHost[from]!.call<{ count: number; ok: number; corrupt: number; errors: string[] }>('churn', {
          target: `${POD[to]}:8080`,
          count: 4,
          bytes: 32_768,
        }),
        byHost[from]!.call<{ count: number; ok: number; corrupt: number; errors: string[] }>('churn', {
          target: `${POD[to]}:9000`,
          count: 2,
          udp: true,
        }),
      ]),
    )
    for (const r of await Promise.all(round)) {
      churn.flows += r.count
      churn.ok += r.ok
      churn.corrupt += r.corrupt
      for (const e of r.errors) churn.errors.set(e, (churn.errors.get(e) ?? 0) + 1)
    }
    if (Date.now() >= nextSample) {
      samples.push(...(await sampleAll()))
      nextSample += SAMPLE_MS
    }
    await sleep(1000)
  }
  const m = await (await import('../faults/fault-harness.ts')).measure('soak', keepers, started)
  // Traffic stopped: every flow must leave the tables once UDP associations idle out (60 s).
  await sleep(70_000)
  const drained = await sampleAll()

  const ms = Date.now() - started
  console.log(
    `soak ${(DURATION_MS / 60_000).toFixed(0)} min: long flows ${m.flowsHeld} (breaks in ${m.flowsAffected}), ` +
      `bytes lost ${m.bytesLost}, corrupt ${m.bytesCorrupt}; probes ${m.probesSent - m.probesFailed}/${m.probesSent} ok; ` +
      `churn ${churn.ok}/${churn.flows} short flows ok, corrupt ${churn.corrupt}` +
      (churn.errors.size ? `, errors ${JSON.stringify(Object.fromEntries(churn.errors))}` : ''),
  )
  const rows: string[] = []
  for (const node of NODES) {
    const mine = samples.filter((s) => s.node === node)
    const steady = mine.filter((s) => s.at >= started + WARMUP_MS)
    const third = Math.max(1, Math.floor(steady.length / 3))
    const max = (xs: Sample[], k: 'rssMiB' | 'fds' | 'flows') => Math.max(...xs.map((x) => x[k]))
    const growth =
      steady.length >= 3
        ? {
            rssMiB: max(steady.slice(-third), 'rssMiB') - max(steady.slice(0, third), 'rssMiB'),
            fds: max(steady.slice(-third), 'fds') - max(steady.slice(0, third), 'fds'),
            flows: max(steady.slice(-third), 'flows') - max(steady.slice(0, third), 'flows'),
          }
        : null
    const end = drained.find((d) => d.node === node)!
    const g = growth
      ? `steady-state growth rss ${growth.rssMiB.toFixed(0)} MiB, fds ${growth.fds}, flows ${growth.flows}`
      : 'steady-state growth n/a (run shorter than the warm-up)'
    rows.push(
      `${node.padEnd(8)} rss ${mine[0]!.rssMiB.toFixed(0)} -> max ${max(mine, 'rssMiB').toFixed(0)} MiB, ` +
        `fds ${mine[0]!.fds} -> max ${max(mine, 'fds')}, flows max ${max(mine, 'flows')}; ${g}; ` +
        `after the drain: fds ${end.fds}, flows ${end.flows}`,
    )
    if (growth && (growth.rssMiB > BOUNDS.rssMiB || growth.fds > BOUNDS.fds || growth.flows > BOUNDS.flows)) {
      failed = true
      rows.push(`  ${node}: growth past the bounds ${JSON.stringify(BOUNDS)}`)
    }
    if (end.fds - mine[0]!.fds > BOUNDS.fds) {
      failed = true
      rows.push(`  ${node}: ${end.fds - mine[0]!.fds} more fds after the drain than before the traffic`)
    }
    if (end.flows !== 0) {
      failed = true
      rows.push(`  ${node}: ${end.flows} flows still open after the drain`)
    }
    if (agentPid(node) !== pids[node]) {
      failed = true
      rows.push(`  ${node}: the agent restarted during the soak`)
    }
  }
  console.log(rows.join('\n'))
  console.log(`soak took ${(ms / 1000).toFixed(0)} s with ${samples.length / NODES.length} samples per agent`)
  if (m.bytesLost !== 0 || m.bytesCorrupt !== 0 || churn.corrupt !== 0) failed = true
} catch (err) {
  console.error(err)
  failed = true
} finally {
  labCli(['down', LAB])
}
process.exit(failed ? 1 : 0)
