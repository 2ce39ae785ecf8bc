/**
 * Keeps traffic running from one lab namespace while a fault happens, and records every failure:
 *   node flow-keeper.ts '{"flows":[{"id","target":"IP:PORT","udp"?}], "probes":[{"id","target","udp"?}], ...}'
 * - a flow is a long-lived TCP connection to a lab echo server carrying a stream of pattern bytes both ways
 *   (every byte that comes back is checked against the pattern: corruption is counted to the byte), or a UDP
 *   association sending numbered datagrams; a broken flow is recorded and opened again;
 * - a probe is a new short connection (or datagram) every `probeIntervalMs` (100 ms), to each target in turn,
 *   recorded with its times;
 * - a source (`source: {port}`) serves pattern bytes to whoever connects, 32 KiB every 250 ms, reading nothing; a download
 *   (`downloads: [{id, target}]`) reads from a source and checks every byte: a flow whose client only receives,
 *   the case where after a NAT flush nothing leaves the client's side unless its agent probes (BUSY_KEEPALIVE_MS);
 *   its report has the longest silence since a time;
 * Answers one JSON line per JSON command on stdin: {cmd:"report", since} (failures since a time, recovery,
 * flow breaks), {cmd:"churn", target, count, bytes, udp?} (short checked flows now), {cmd:"finish"} (stop
 * writing, wait for every echo, close, and report what each flow sent, got back and lost). Prints {type:"ready"}.
 */
import { createHash } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { connect, createServer, type Socket } from 'node:net'
import { createInterface } from 'node:readline'
import { parseTarget, probeTcp, probeUdp } from '../../packages/testlab/src/probe/probe.ts'

interface FlowSpec {
  readonly id: string
  readonly target: string
  readonly udp?: boolean
}
interface Config {
  readonly flows?: readonly FlowSpec[]
  readonly probes?: readonly FlowSpec[]
  /** Default 100 ms. */
  readonly probeIntervalMs?: number
  /** A probe that has no answer after this failed. Default 2000 ms. */
  readonly probeTimeoutMs?: number
  /** Bytes written per tick per TCP flow (a tick is 20 ms). Default 1024: ~50 KB/s each way per flow. */
  readonly chunk?: number
  /** Serve pattern bytes on this TCP port (SOURCE_CHUNK per tick to each client). */
  readonly source?: { readonly port: number }
  /** Long-lived connections to sources that only read. */
  readonly downloads?: readonly FlowSpec[]
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config
const PROBE_INTERVAL = config.probeIntervalMs ?? 100
const PROBE_TIMEOUT = config.probeTimeoutMs ?? 2000
const CHUNK = config.chunk ?? 1024
const TICK_MS = 20
/** Bytes in flight (sent, not yet echoed) a flow allows itself: bounded so a stalled path does not buffer without end. */
const MAX_OUTSTANDING = 256 * 1024
/**
 * A prime length, so that the pattern never lines up with chunk boundaries. The same in every keeper (a SHA-256
 * chain from a fixed seed): a download checks bytes another keeper's source wrote.
 */
const PATTERN = (() => {
  const out = Buffer.alloc(65_521)
  let block = createHash('sha256').update('podlink flow-keeper pattern').digest()
  for (let o = 0; o < out.length; o += block.length) {
    block.copy(out, o)
    block = createHash('sha256').update(block).digest()
  }
  return out
})()

const say = (o: object): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`)
}

interface Break {
  readonly at: number
  readonly sent: number
  readonly received: number
  readonly reason: string
}
interface FlowState {
  readonly spec: FlowSpec
  generation: number
  sent: number
  received: number
  corrupt: number
  /** Corrupted bytes over every generation of this flow. */
  corruptTotal: number
  responder: string | null
  openedAt: number
  /** First echoed byte of the current generation. */
  flowingAt: number | null
  breaks: Break[]
  /** Completed generations: sent and received when closed cleanly (by finish). */
  completed: Array<{ sent: number; received: number; corrupt: number }>
  stop: (() => Promise<void>) | null
}
const flows: FlowState[] = []
let finishing = false

function patternAt(offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length)
  let o = 0
  let p = offset % PATTERN.length
  while (o < length) {
    const n = Math.min(length - o, PATTERN.length - p)
    PATTERN.copy(out, o, p, p + n)
    o += n
    p = 0
  }
  return out
}

function countMismatch(data: Buffer, offset: number): number {
  const want = patternAt(offset, data.length)
  if (want.equals(data)) return 0
  let bad = 0
  for (let i = 0; i < data.length; i++) if (want[i] !== data[i]) bad++
  return bad
}

function openTcp(f: FlowState): void {
  const { host, port } = parseTarget(f.spec.target)
  f.generation++
  f.sent = 0
  f.received = 0
  f.corrupt = 0
  f.responder = null
  f.openedAt = Date.now()
  f.flowingAt = null
  const sock: Socket = connect({ host, port })
  sock.setNoDelay(true)
  let greeting = Buffer.alloc(0)
  let ended = false
  let ticker: NodeJS.Timeout | null = null
  let drained: (() => void) | null = null
  const close = (reason: string): void => {
    if (ended) return
    ended = true
    if (ticker) clearInterval(ticker)
    sock.destroy()
    if (drained) {
      drained()
      return
    }
    f.breaks.push({ at: Date.now(), sent: f.sent, received: f.received, reason })
    if (!finishing) setTimeout(() => openTcp(f), 200)
  }
  sock.on('error', (err: NodeJS.ErrnoException) => close(err.code ?? err.message))
  sock.on('end', () => close(f.responder === null ? 'closed before greeting' : 'closed by peer'))
  sock.on('data', (d: Buffer) => {
    let data = d
    if (f.responder === null) {
      greeting = Buffer.concat([greeting, data])
      const nl = greeting.indexOf(10)
      if (nl < 0) return
      f.responder = greeting.subarray(0, nl).toString()
      data = greeting.subarray(nl + 1)
      ticker = setInterval(() => {
        if (finishing || sock.writableLength > 0 || f.sent - f.received > MAX_OUTSTANDING) return
        sock.write(patternAt(f.sent, CHUNK))
        f.sent += CHUNK
      }, TICK_MS)
    }
    if (data.length === 0) return
    const bad = countMismatch(data, f.received)
    f.corrupt += bad
    f.corruptTotal += bad
    f.received += data.length
    f.flowingAt ??= Date.now()
    if (drained && f.received >= f.sent) drained()
  })
  f.stop = async () => {
    if (ended) return
    if (ticker) clearInterval(ticker)
    // Everything written must come back before the flow counts as completed; then close it cleanly.
    const deadline = Date.now() + 15_000
    await new Promise<void>((resolve) => {
      drained = resolve
      if (f.received >= f.sent) resolve()
      const check = setInterval(() => {
        if (f.received >= f.sent || Date.now() > deadline || ended) {
          clearInterval(check)
          resolve()
        }
      }, 50)
    })
    const wasEnded = ended
    ended = true
    sock.end()
    sock.destroy()
    if (!wasEnded) f.completed.push({ sent: f.sent, received: f.received, corrupt: f.corrupt })
  }
}

/** UDP: one datagram per tick, numbered; an answer must be `<responder> <the datagram>`. */
function openUdp(f: FlowState): void {
  const { host, port } = parseTarget(f.spec.target)
  f.generation++
  f.openedAt = Date.now()
  const sock = createSocket('udp4')
  const pending = new Map<number, number>()
  let seq = 0
  sock.on('message', (msg) => {
    const text = msg.toString()
    const m = /^(\S+) podlink-udp (\d+) (x+)$/.exec(text)
    if (!m) {
      f.corrupt += msg.length
      f.corruptTotal += msg.length
      return
    }
    f.responder = m[1] ?? null
    if (pending.delete(Number(m[2]))) f.received++
    f.flowingAt ??= Date.now()
  })
  sock.on('error', () => {})
  const ticker = setInterval(() => {
    if (finishing) return
    const now = Date.now()
    for (const [n, at] of pending) {
      // Unanswered after the probe timeout: lost (UDP may lose datagrams; counted, never hidden).
      if (now - at > PROBE_TIMEOUT) {
        pending.delete(n)
        f.breaks.push({ at, sent: 1, received: 0, reason: 'datagram lost' })
      }
    }
    seq++
    pending.set(seq, now)
    f.sent++
    sock.send(`podlink-udp ${seq} ${'x'.repeat(64)}`, port, host)
  }, 50)
  f.stop = async () => {
    clearInterval(ticker)
    await new Promise((r) => setTimeout(r, Math.min(PROBE_TIMEOUT, 1000)))
    sock.close()
    f.completed.push({ sent: f.sent, received: f.received, corrupt: f.corrupt })
  }
}

/**
 * A source writes SOURCE_CHUNK every SOURCE_EVERY_MS to each client (128 KB/s): bursts with idle links between them,
 * as most downloads are. A flush that falls in a pause leaves the client's side nothing to send (every byte acked):
 * the case a flow that always has something in flight never meets.
 */
const SOURCE_CHUNK = 32 * 1024
const SOURCE_EVERY_MS = 250

function startSource(port: number): Promise<void> {
  const server = createServer((sock) => {
    sock.setNoDelay(true)
    sock.on('error', () => sock.destroy())
    sock.resume()
    let offset = 0
    const ticker = setInterval(() => {
      if (sock.writableLength > 4 * SOURCE_CHUNK) return
      sock.write(patternAt(offset, SOURCE_CHUNK))
      offset += SOURCE_CHUNK
    }, SOURCE_EVERY_MS)
    sock.once('close', () => clearInterval(ticker))
  })
  return new Promise((resolve) => server.listen({ port, host: '::', ipv6Only: false }, resolve))
}

/** Silences longer than this are recorded one by one; shorter ones are the source's own pauses. */
const GAP_MS = 400
interface DownloadState {
  readonly spec: FlowSpec
  generation: number
  received: number
  corrupt: number
  lastByteAt: number | null
  readonly gaps: Array<{ from: number; to: number }>
  readonly breaks: Break[]
  socket: Socket | null
}
const downloads: DownloadState[] = []

function openDownload(d: DownloadState): void {
  const { host, port } = parseTarget(d.spec.target)
  d.generation++
  let offset = 0
  const sock = connect({ host, port })
  d.socket = sock
  let ended = false
  const close = (reason: string): void => {
    if (ended) return
    ended = true
    sock.destroy()
    if (finishing) return
    d.breaks.push({ at: Date.now(), sent: 0, received: offset, reason })
    setTimeout(() => openDownload(d), 200)
  }
  sock.on('error', (err: NodeJS.ErrnoException) => close(err.code ?? err.message))
  sock.on('end', () => close('closed by peer'))
  sock.on('data', (data: Buffer) => {
    const now = Date.now()
    if (d.lastByteAt !== null && now - d.lastByteAt > GAP_MS) d.gaps.push({ from: d.lastByteAt, to: now })
    d.lastByteAt = now
    d.corrupt += countMismatch(data, offset)
    offset += data.length
    d.received += data.length
  })
}

/** The longest silence of a download that overlaps [since, now], counting one still going on. */
function longestGap(d: DownloadState, since: number, now: number): number {
  const gaps = [...d.gaps]
  if (d.lastByteAt !== null && now - d.lastByteAt > GAP_MS) gaps.push({ from: d.lastByteAt, to: now })
  return gaps.filter((g) => g.to >= since).reduce((m, g) => Math.max(m, g.to - Math.max(g.from, since)), 0)
}

interface ProbeRecord {
  readonly t0: number
  readonly t1: number
  readonly ok: boolean
  readonly reason?: string
  readonly responder?: string
}
const probes = new Map<string, { spec: FlowSpec; records: ProbeRecord[] }>()
let probeTimer: NodeJS.Timeout | null = null
let seq = 0

function startProbes(): void {
  for (const spec of config.probes ?? []) probes.set(spec.id, { spec, records: [] })
  const all = [...probes.values()]
  let turn = 0
  // One new connection per interval, the targets in turn: a keeper's probe rate stays ~10/s however many paths
  // it watches (a loaded 2-core lab cannot take 10/s per path without the probes themselves becoming the fault).
  probeTimer = setInterval(() => {
    const p = all[turn++ % all.length]
    if (p !== undefined) {
      const { host, port } = parseTarget(p.spec.target)
      const t0 = Date.now()
      const run = p.spec.udp ? probeUdp(host, port, PROBE_TIMEOUT, seq++) : probeTcp(host, port, PROBE_TIMEOUT, seq++)
      void run.then((r) =>
        p.records.push({
          t0,
          t1: Date.now(),
          ok: r.ok,
          ...(r.reason ? { reason: r.reason } : {}),
          ...(r.responder ? { responder: r.responder } : {}),
        }),
      )
    }
  }, PROBE_INTERVAL)
}

/** Failures since `since`, and when the probe recovered: the start of the first success after the last failure. */
function report(since: number) {
  const probeReport = [...probes.values()].map(({ spec, records }) => {
    const window = records.filter((r) => r.t0 >= since)
    const failed = window.filter((r) => !r.ok)
    const lastFail = failed.reduce((m, r) => Math.max(m, r.t0), 0)
    const firstFail = failed.reduce((m, r) => Math.min(m, r.t0), Number.POSITIVE_INFINITY)
    const recovered = failed.length === 0 ? null : (window.find((r) => r.ok && r.t0 > lastFail)?.t0 ?? null)
    const lastOk = [...window].reverse().find((r) => r.ok)
    return {
      id: spec.id,
      sent: window.length,
      ok: window.length - failed.length,
      failed: failed.length,
      firstFailAt: failed.length ? firstFail : null,
      lastFailAt: failed.length ? lastFail : null,
      recoveredAt: recovered,
      lastResponder: lastOk?.responder ?? null,
      reasons: [...new Set(failed.map((r) => r.reason ?? 'fail'))],
      // When they failed (the first 20): tells a failure the fault caused from the noise of a loaded machine.
      failTimes: failed.slice(0, 20).map((r) => r.t0),
    }
  })
  const flowReport = flows.map((f) => {
    const breaks = f.breaks.filter((b) => b.at >= since)
    return {
      id: f.spec.id,
      udp: f.spec.udp === true,
      generation: f.generation,
      breaks: breaks.length,
      // Bytes (datagrams, for UDP) written into a flow that broke and never echoed: the application saw the break.
      inFlightAtBreaks: breaks.reduce((n, b) => n + (b.sent - b.received), 0),
      reasons: [...new Set(breaks.map((b) => b.reason))],
      lastBreakAt: breaks.length ? breaks[breaks.length - 1]!.at : null,
      sent: f.sent,
      received: f.received,
      corrupt: f.corruptTotal,
      flowingAt: f.flowingAt,
      responder: f.responder,
    }
  })
  const now = Date.now()
  const downloadReport = downloads.map((d) => ({
    id: d.spec.id,
    received: d.received,
    corrupt: d.corrupt,
    breaks: d.breaks.filter((b) => b.at >= since).length,
    reasons: [...new Set(d.breaks.filter((b) => b.at >= since).map((b) => b.reason))],
    longestGapMs: longestGap(d, since, now),
    lastByteAt: d.lastByteAt,
  }))
  return { probes: probeReport, flows: flowReport, downloads: downloadReport, now }
}

/** `count` short TCP flows of `bytes` each, (up to 8 at a time), checked byte for byte. */
async function churn(target: string, count: number, bytes: number, udp: boolean) {
  const { host, port } = parseTarget(target)
  let ok = 0
  let corrupt = 0
  const errors = new Set<string>()
  let next = 0
  async function one(): Promise<void> {
    if (udp) {
      const r = await probeUdp(host, port, PROBE_TIMEOUT, seq++)
      if (r.ok) ok++
      else errors.add(r.reason ?? 'fail')
      return
    }
    await new Promise<void>((resolve) => {
      const sock = connect({ host, port })
      let greeted = false
      let got = 0
      let bad = 0
      const timer = setTimeout(() => done('timeout'), 10_000)
      function done(err?: string): void {
        clearTimeout(timer)
        sock.destroy()
        if (err) errors.add(err)
        else ok++
        corrupt += bad
        resolve()
      }
      sock.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message))
      sock.on('end', () => done(got === bytes ? undefined : `closed after ${got} of ${bytes}`))
      sock.on('data', (d: Buffer) => {
        let data = d
        if (!greeted) {
          const nl = data.indexOf(10)
          if (nl < 0) return
          greeted = true
          data = data.subarray(nl + 1)
          sock.end(patternAt(0, bytes))
        }
        bad += countMismatch(data, got)
        got += data.length
        if (got >= bytes) done(got === bytes ? undefined : 'too many bytes')
      })
    })
  }
  await Promise.all(
    Array.from({ length: Math.min(8, count) }, async () => {
      while (next < count) {
        next++
        await one()
      }
    }),
  )
  return { target, count, ok, corrupt, errors: [...errors] }
}

for (const spec of config.flows ?? []) {
  const f: FlowState = {
    spec,
    generation: 0,
    sent: 0,
    received: 0,
    corrupt: 0,
    corruptTotal: 0,
    responder: null,
    openedAt: 0,
    flowingAt: null,
    breaks: [],
    completed: [],
    stop: null,
  }
  flows.push(f)
  if (spec.udp) openUdp(f)
  else openTcp(f)
}
for (const spec of config.downloads ?? []) {
  const d: DownloadState = {
    spec,
    generation: 0,
    received: 0,
    corrupt: 0,
    lastByteAt: null,
    gaps: [],
    breaks: [],
    socket: null,
  }
  downloads.push(d)
  openDownload(d)
}
if (config.source !== undefined) await startSource(config.source.port)
startProbes()
say({ type: 'ready', pid: process.pid })

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as { id: number; cmd: string; since?: number; [k: string]: unknown }
  try {
    if (cmd.cmd === 'report') say({ id: cmd.id, ...report(cmd.since ?? 0) })
    else if (cmd.cmd === 'churn')
      say({
        id: cmd.id,
        ...(await churn(String(cmd.target), Number(cmd.count), Number(cmd.bytes ?? 16_384), cmd.udp === true)),
      })
    else if (cmd.cmd === 'finish') {
      finishing = true
      if (probeTimer) clearInterval(probeTimer)
      for (const d of downloads) d.socket?.destroy()
      await Promise.all(flows.map((f) => f.stop?.()))
      await new Promise((r) => setTimeout(r, PROBE_TIMEOUT))
      say({
        id: cmd.id,
        ...report(0),
        completed: flows.map((f) => ({ id: f.spec.id, udp: f.spec.udp === true, generations: f.completed })),
      })
      process.exit(0)
    } else say({ id: cmd.id, error: `unknown command ${cmd.cmd}` })
  } catch (err) {
    say({ id: cmd.id, error: String(err) })
  }
}
