// UDP request/response load generator for udp-capture.bench.ts (run inside a namespace with `ip netns exec`).
//   node udp-load.ts <host> <port> <inflight> <total> <sockets>
// Keeps <inflight> 64-byte requests outstanding, spread round-robin over <sockets> client sockets (each socket is
// one conntrack flow, so sockets = total makes every request a new flow). A request unanswered for 1 s is counted
// lost and replaced. Each reply must come from <host>:<port>. Prints one JSON line.
import dgram from 'node:dgram'
import { performance } from 'node:perf_hooks'

const [host = '', portText = '0', inflightText = '16', totalText = '10000', socketsText = '1'] = process.argv.slice(2)
const port = Number(portText)
const inflight = Number(inflightText)
const total = Number(totalText)
const socketCount = Number(socketsText)

const sent = new Map<number, number>()
const latencies: number[] = []
let next = 0
let lost = 0
let badSource = 0
let socketIndex = 0
const sockets: dgram.Socket[] = []
const payload = Buffer.alloc(64)

function socketAt(i: number): dgram.Socket {
  let s = sockets[i]
  if (s) return s
  s = dgram.createSocket('udp4')
  s.on('message', (m, r) => {
    if (r.address !== host || r.port !== port) badSource++
    const id = m.readUInt32BE(0)
    const t = sent.get(id)
    if (t === undefined) return
    sent.delete(id)
    latencies.push(performance.now() - t)
    if (socketCount >= total) s?.close() // one flow per request: free the port
    pump()
  })
  sockets[i] = s
  return s
}

function pump(): void {
  while (sent.size < inflight && next < total) {
    const id = next++
    const buf = Buffer.from(payload)
    buf.writeUInt32BE(id, 0)
    sent.set(id, performance.now())
    socketAt(socketIndex).send(buf, port, host)
    socketIndex = (socketIndex + 1) % socketCount
  }
  if (sent.size === 0 && next >= total) finish()
}

const started = performance.now()
function finish(): void {
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const q = (p: number) =>
    Math.round((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0) * 1000)
  console.log(
    JSON.stringify({
      replies: latencies.length,
      lost,
      badSource,
      seconds: Number(seconds.toFixed(3)),
      perSecond: Math.round(latencies.length / seconds),
      p50us: q(0.5),
      p99us: q(0.99),
    }),
  )
  process.exit(0)
}

setInterval(() => {
  const cutoff = performance.now() - 1000
  for (const [id, t] of sent) {
    if (t < cutoff) {
      sent.delete(id)
      lost++
    }
  }
  pump()
}, 200)
pump()
