/**
 * Runs traffic across a fault and measures what the fault did to it (issue 9): flow keepers (flow-keeper.ts)
 * in lab namespaces hold long-lived checksummed TCP flows and UDP associations open and probe with new
 * connections every 100 ms; `measure` turns their reports into one line per fault (flows affected, time to
 * recover, bytes lost), printed and appended to results/faults.json for the issue's note.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { waitFor as labWaitFor, REPO } from '../lab/lab-cli.ts'

export interface FlowSpec {
  readonly id: string
  readonly target: string
  readonly udp?: boolean
}

export interface ProbeReport {
  readonly id: string
  readonly sent: number
  readonly ok: number
  readonly failed: number
  readonly firstFailAt: number | null
  readonly lastFailAt: number | null
  readonly recoveredAt: number | null
  readonly lastResponder: string | null
  readonly reasons: readonly string[]
  /** Start times of the first 20 failures. */
  readonly failTimes: readonly number[]
}
export interface FlowReport {
  readonly id: string
  readonly udp: boolean
  readonly generation: number
  readonly breaks: number
  readonly inFlightAtBreaks: number
  readonly reasons: readonly string[]
  readonly lastBreakAt: number | null
  readonly sent: number
  readonly received: number
  readonly corrupt: number
  readonly flowingAt: number | null
  readonly responder: string | null
}
/** A connection that only receives from a source (flow-keeper.ts). */
export interface DownloadReport {
  readonly id: string
  readonly received: number
  readonly corrupt: number
  readonly breaks: number
  readonly reasons: readonly string[]
  /** The longest silence overlapping the report's window, one still going on included. */
  readonly longestGapMs: number
  readonly lastByteAt: number | null
}
export interface KeeperReport {
  readonly probes: readonly ProbeReport[]
  readonly flows: readonly FlowReport[]
  readonly downloads: readonly DownloadReport[]
  readonly now: number
}
export interface FinalReport extends KeeperReport {
  readonly completed: ReadonlyArray<{
    id: string
    udp: boolean
    generations: ReadonlyArray<{ sent: number; received: number; corrupt: number }>
  }>
}

export interface Keeper {
  readonly host: string
  call<T>(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>
  report(since: number): Promise<KeeperReport>
  /** Stops writing, waits for every echo, closes every flow; the keeper exits. */
  finish(): Promise<FinalReport>
  kill(): void
}

/** Starts a flow keeper in `<lab>.<host>`; resolves once its flows and probes are running. */
export async function startKeeper(
  lab: string,
  host: string,
  config: {
    flows?: FlowSpec[]
    probes?: FlowSpec[]
    source?: { port: number }
    downloads?: FlowSpec[]
    probeIntervalMs?: number
    probeTimeoutMs?: number
    chunk?: number
  },
): Promise<Keeper> {
  const child: ChildProcessWithoutNullStreams = spawn(
    'ip',
    ['netns', 'exec', `${lab}.${host}`, process.execPath, `${REPO}test/faults/flow-keeper.ts`, JSON.stringify(config)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  )
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000)
  })
  const waiting = new Map<number, (v: unknown) => void>()
  let ready: (() => void) | null = null
  let exited: ((err: Error) => void) | null = null
  const readyP = new Promise<void>((resolve, reject) => {
    ready = resolve
    exited = reject
  })
  child.on('exit', (code) => {
    exited?.(new Error(`flow keeper in ${host} exited (${code}): ${stderr}`))
    for (const w of waiting.values()) w({ error: `flow keeper in ${host} exited (${code}): ${stderr}` })
    waiting.clear()
  })
  createInterface({ input: child.stdout }).on('line', (line) => {
    const msg = JSON.parse(line) as { type?: string; id?: number }
    if (msg.type === 'ready') ready?.()
    else if (msg.id !== undefined) {
      waiting.get(msg.id)?.(msg)
      waiting.delete(msg.id)
    }
  })
  await Promise.race([
    readyP,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`flow keeper in ${host} not ready in 30 s`)), 30_000)),
  ])
  let next = 1
  const call = <T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> => {
    const id = next++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`flow keeper in ${host}: ${cmd} timed out`)), timeoutMs)
      waiting.set(id, (v) => {
        clearTimeout(timer)
        const e = (v as { error?: string }).error
        if (e) reject(new Error(e))
        else resolve(v as T)
      })
      child.stdin.write(`${JSON.stringify({ id, cmd, ...args })}\n`)
    })
  }
  return {
    host,
    call,
    report: (since) => call<KeeperReport>('report', { since }),
    finish: () => call<FinalReport>('finish', {}, 60_000),
    kill: () => child.kill('SIGKILL'),
  }
}

export interface FaultLine {
  readonly fault: string
  /** Long-lived flows (TCP connections, UDP associations) that broke or lost datagrams, of all held open. */
  readonly flowsAffected: number
  readonly flowsHeld: number
  /** Probe connections that failed (every 100 ms per target). */
  readonly probesFailed: number
  readonly probesSent: number
  /** From the fault to the first success after the last failure; 0 when nothing failed. */
  readonly recoveryMs: number
  /** Bytes written into flows that completed and never echoed back: must be 0. */
  readonly bytesLost: number
  /** Bytes that came back different from what was sent: must be 0. */
  readonly bytesCorrupt: number
  /** Bytes in flight in flows that broke (their application saw the break). */
  readonly inFlightAtBreaks: number
  /** Per probe target: failed/sent, the failure reasons, and when they failed (seconds from the fault). */
  readonly perProbe?: Readonly<Record<string, string>>
  readonly notes?: string
}

export interface Measured extends FaultLine {
  readonly reports: readonly FinalReport[]
}

/**
 * Finishes the keepers and folds their reports from `faultAt` on into one line. `only` limits the probe ids
 * whose recovery counts (others must not fail at all, which the caller asserts from `reports`).
 */
export async function measure(fault: string, keepers: readonly Keeper[], faultAt: number): Promise<Measured> {
  const reports = await Promise.all(keepers.map((k) => k.finish()))
  let flowsAffected = 0
  let flowsHeld = 0
  let probesFailed = 0
  let probesSent = 0
  let recoveryMs = 0
  let bytesLost = 0
  let bytesCorrupt = 0
  let inFlight = 0
  const perProbe: Record<string, string> = {}
  for (const r of reports) {
    for (const p of r.probes) {
      const at = p.failTimes.map((t) => `${t >= faultAt ? '+' : ''}${((t - faultAt) / 1000).toFixed(1)}`)
      perProbe[p.id] =
        `${p.failed}/${p.sent}${p.reasons.length ? ` (${p.reasons.join(', ')})` : ''}` +
        (at.length ? ` at ${at.join(' ')} s${p.failed > at.length ? ' ...' : ''}` : '')
      probesSent += p.sent
      probesFailed += p.failed
      if (p.lastFailAt !== null && p.lastFailAt >= faultAt) {
        const back = p.recoveredAt ?? r.now
        recoveryMs = Math.max(recoveryMs, back - faultAt)
      }
    }
    for (const f of r.flows) {
      flowsHeld++
      bytesCorrupt += f.corrupt
      if (f.breaks > 0) {
        flowsAffected++
        if (!f.udp) inFlight += f.inFlightAtBreaks
      }
    }
    for (const c of r.completed)
      for (const g of c.generations) if (!c.udp) bytesLost += Math.max(0, g.sent - g.received)
  }
  return {
    fault,
    flowsAffected,
    flowsHeld,
    probesFailed,
    probesSent,
    recoveryMs: Math.round(recoveryMs),
    bytesLost,
    bytesCorrupt,
    inFlightAtBreaks: inFlight,
    perProbe,
    reports,
  }
}

const RESULTS = `${REPO}results/faults.json`

/** Prints the fault's line and appends it to results/faults.json (a JSON array). */
export function recordFault(line: FaultLine): void {
  const { reports: _reports, ...plain } = line as Measured
  console.log(
    `FAULT ${plain.fault}: flows affected ${plain.flowsAffected}/${plain.flowsHeld}, probes failed ${plain.probesFailed}/${plain.probesSent}, ` +
      `recovery ${plain.recoveryMs} ms, bytes lost ${plain.bytesLost}, corrupt ${plain.bytesCorrupt}, in flight at breaks ${plain.inFlightAtBreaks}` +
      (plain.notes ? ` (${plain.notes})` : ''),
  )
  // Which probes failed, why and when (CI keeps only the output).
  for (const [id, line] of Object.entries(plain.perProbe ?? {}))
    if (!line.startsWith('0/')) console.log(`  probe ${id}: ${line}`)
  mkdirSync(`${REPO}results`, { recursive: true })
  const all = existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as unknown[]) : []
  all.push({ ...plain, at: new Date().toISOString() })
  writeFileSync(RESULTS, `${JSON.stringify(all, null, 2)}\n`)
}

/** The lab suites' waitFor, polling every 100 ms (the fault labs are busy enough). */
export const waitFor = <T>(
  what: string,
  timeoutMs: number,
  fn: () => Promise<T | undefined> | T | undefined,
): Promise<{ value: T; ms: number }> => labWaitFor(what, timeoutMs, fn, 100)

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
