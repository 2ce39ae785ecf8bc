/**
 * Throughput of one TCP flow through the proxy (capture socket -> proxyTcp -> transport -> flow exit -> pod socket,
 * all on loopback in this process), byte-identical checked by sha256 at both ends, and request/response latency
 * (1 KiB each way) over the same path. Transports: the in-memory stream pair, real libp2p (TCP + TLS + yamux) and the
 * fast channel (one TLS 1.3 socket per flow).
 * Run: node packages/proxy/bench/splice.bench.ts   (BENCH_BYTES=<n> to change the 1 GiB default)
 */
import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import { fastTransport } from '../src/testing/fast-transport.ts'
import { libp2pTransport } from '../src/testing/libp2p-transport.ts'
import type { ManualTimers } from '../src/testing/manual-timers.ts'
import { createLab, memoryTransport, POD, type Transport } from '../src/testing/tcp-harness.ts'

const TOTAL = Number(process.env.BENCH_BYTES ?? 1024 * 1024 * 1024)
const ROUND_TRIPS = 2000
const block = randomBytes(1024 * 1024)

async function throughput(client: net.Socket, server: net.Socket): Promise<{ mbps: number; identical: boolean }> {
  const sent = createHash('sha256')
  const got = createHash('sha256')
  let received = 0
  const done = new Promise<void>((r) => {
    server.on('data', (c: Buffer) => {
      got.update(c)
      received += c.length
    })
    server.once('end', () => r())
  })
  const t0 = performance.now()
  for (let n = 0; n < TOTAL; n += block.length) {
    const part = n + block.length <= TOTAL ? block : block.subarray(0, TOTAL - n)
    sent.update(part)
    if (!client.write(part)) await new Promise((r) => client.once('drain', r))
  }
  client.end()
  await done
  const ms = performance.now() - t0
  return { mbps: (received * 8) / ms / 1000, identical: received === TOTAL && sent.digest('hex') === got.digest('hex') }
}

async function latency(client: net.Socket, server: net.Socket): Promise<{ p50: number; p99: number }> {
  const req = Buffer.alloc(1024, 1)
  let pending = 0
  server.on('data', (c: Buffer) => {
    pending += c.length
    while (pending >= 1024) {
      pending -= 1024
      server.write(req)
    }
  })
  const samples: number[] = []
  let have = 0
  let wake: (() => void) | null = null
  client.on('data', (c: Buffer) => {
    have += c.length
    if (have >= 1024 && wake) wake()
  })
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t0 = performance.now()
    const got = new Promise<void>((r) => {
      wake = r
    })
    client.write(req)
    if (have < 1024) await got
    have -= 1024
    samples.push((performance.now() - t0) * 1000)
  }
  samples.sort((a, b) => a - b)
  return { p50: samples[Math.floor(samples.length * 0.5)]!, p99: samples[Math.floor(samples.length * 0.99)]! }
}

async function direct(): Promise<{ client: net.Socket; server: Promise<net.Socket>; close(): void }> {
  let accept!: (s: net.Socket) => void
  const server = new Promise<net.Socket>((r) => {
    accept = r
  })
  const srv = net.createServer({ allowHalfOpen: true, noDelay: true }, accept)
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const client = net.connect({ port: (srv.address() as net.AddressInfo).port, host: '127.0.0.1', noDelay: true })
  return { client, server, close: () => srv.close() }
}

const rows: string[][] = []
const row = (path: string, t: { mbps: number; identical: boolean }, l: { p50: number; p99: number }): void => {
  rows.push([path, (t.mbps / 1000).toFixed(2), t.identical ? 'yes' : 'NO', l.p50.toFixed(0), l.p99.toFixed(0)])
}

{
  const d = await direct()
  const t = await throughput(d.client, await d.server)
  const d2 = await direct()
  const l = await latency(d2.client, await d2.server)
  row('loopback TCP, no proxy', t, l)
  d.close()
  d2.close()
  d2.client.destroy()
}
const transports: Array<[string, (timers: ManualTimers) => Transport]> = [
  ['proxy over in-memory streams', memoryTransport()],
  ['proxy over libp2p (tls+yamux)', libp2pTransport()],
  ['proxy over the fast channel (TLS socket per flow)', fastTransport()],
]
for (const [name, transport] of transports) {
  const lab = await createLab(transport)
  const pod = { kind: 'pod', endpoint: POD } as const
  const a = await lab.dial(pod)
  const t = await throughput(a.client, await lab.accepted())
  const b = await lab.dial(pod)
  const l = await latency(b.client, await lab.accepted())
  row(name, t, l)
  await lab.close()
}

const head = ['path (one flow)', 'Gbit/s', 'sha256 equal', 'rr p50 us', 'rr p99 us']
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
console.log(`${(TOTAL / 2 ** 20).toFixed(0)} MiB per throughput run, ${ROUND_TRIPS} round trips of 1 KiB each way`)
console.log(line(head))
console.log(line(widths.map((w) => '-'.repeat(w))))
for (const r of rows) console.log(line(r))
process.exit(0)
