/**
 * `pnpm lab probe FROM IP:PORT [--udp] [--count N] [--json]`, run inside FROM's namespace:
 * one line per attempt, `ok <responder> <rtt-ms>` or `fail <reason>`, then a summary line.
 * A TCP attempt connects, reads the responder's name, and checks that a payload echoes back intact;
 * its RTT is connect start to name received. A UDP attempt sends one datagram and checks the answer.
 */
import { createSocket } from 'node:dgram'
import { isIPv6, connect as netConnect } from 'node:net'
import { parseArgs } from 'node:util'

export interface ProbeResult {
  readonly ok: boolean
  readonly responder?: string
  readonly rttMs?: number
  readonly reason?: string
}

export function parseTarget(text: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text)
  if (!m) throw new Error(`Cannot probe ${text} as it is not IP:PORT (or [IPv6]:PORT)`)
  return { host: m[1]!, port: Number(m[2]) }
}

export function probeTcp(host: string, port: number, timeoutMs: number, seq: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const started = performance.now()
    const payload = `podlink-probe ${seq} ${'x'.repeat(64)}\n`
    let buf = ''
    let responder: string | undefined
    let rttMs: number | undefined
    let settled = false
    const sock = netConnect({ host, port })
    const done = (r: ProbeResult): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      sock.destroy()
      resolve(r)
    }
    const timer = setTimeout(
      () => done({ ok: false, reason: responder ? 'timeout waiting for echo' : 'timeout' }),
      timeoutMs,
    )
    sock.setNoDelay(true)
    sock.setEncoding('utf8')
    sock.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, reason: err.code ?? err.message }))
    sock.on('data', (d: string) => {
      buf += d
      if (responder === undefined) {
        const nl = buf.indexOf('\n')
        if (nl < 0) return
        responder = buf.slice(0, nl)
        rttMs = performance.now() - started
        buf = buf.slice(nl + 1)
        sock.write(payload)
      }
      if (buf.length >= payload.length) {
        if (buf.slice(0, payload.length) === payload) done({ ok: true, responder, rttMs: rttMs! })
        else done({ ok: false, reason: 'echo mismatch' })
      }
    })
    sock.on('end', () => done({ ok: false, reason: responder ? 'closed before echo' : 'closed' }))
  })
}

export function probeUdp(host: string, port: number, timeoutMs: number, seq: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = createSocket(isIPv6(host) ? 'udp6' : 'udp4')
    const payload = `podlink-probe ${seq}`
    const started = performance.now()
    const done = (r: ProbeResult): void => {
      clearTimeout(timer)
      sock.close()
      resolve(r)
    }
    const timer = setTimeout(() => done({ ok: false, reason: 'timeout' }), timeoutMs)
    sock.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, reason: err.code ?? err.message }))
    sock.on('message', (msg, rinfo) => {
      const text = msg.toString('utf8')
      if (!text.endsWith(` ${payload}`)) return done({ ok: false, reason: 'echo mismatch' })
      // The reply must come from the address we sent to, as a real UDP server's would.
      if (rinfo.address.replace(/^::ffff:/, '') !== host || rinfo.port !== port) {
        return done({ ok: false, reason: `reply from ${rinfo.address}:${rinfo.port}, not ${host}:${port}` })
      }
      done({ ok: true, responder: text.slice(0, -payload.length - 1), rttMs: performance.now() - started })
    })
    sock.send(payload, port, host)
  })
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      udp: { type: 'boolean', default: false },
      count: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '2000' },
      interval: { type: 'string', default: '0' },
    },
  })
  const { host, port } = parseTarget(positionals[0] ?? '')
  const count = Number(values.count)
  const timeoutMs = Number(values.timeout)
  const results: ProbeResult[] = []
  for (let i = 0; i < count; i++) {
    const r = values.udp ? await probeUdp(host, port, timeoutMs, i) : await probeTcp(host, port, timeoutMs, i)
    results.push(r)
    if (!values.json) console.log(r.ok ? `ok ${r.responder} ${r.rttMs!.toFixed(2)}` : `fail ${r.reason}`)
    if (Number(values.interval) > 0 && i < count - 1)
      await new Promise((res) => setTimeout(res, Number(values.interval)))
  }
  const ok = results.filter((r) => r.ok)
  const rtts = ok.map((r) => r.rttMs!).sort((a, b) => a - b)
  const summary = {
    target: `${host}:${port}/${values.udp ? 'udp' : 'tcp'}`,
    sent: count,
    ok: ok.length,
    failed: count - ok.length,
    responders: Object.fromEntries(
      [...new Set(ok.map((r) => r.responder!))].map((n) => [n, ok.filter((r) => r.responder === n).length]),
    ),
    rttMs: rtts.length ? { min: rtts[0]!, p50: rtts[Math.floor(rtts.length / 2)]!, max: rtts[rtts.length - 1]! } : null,
  }
  if (values.json) console.log(JSON.stringify({ ...summary, results }))
  else {
    const rtt = summary.rttMs
      ? ` rtt min/p50/max ${summary.rttMs.min.toFixed(2)}/${summary.rttMs.p50.toFixed(2)}/${summary.rttMs.max.toFixed(2)} ms`
      : ''
    console.log(`${summary.target}: ${summary.ok}/${summary.sent} ok${rtt}`)
  }
  process.exit(summary.failed === 0 ? 0 : 1)
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
