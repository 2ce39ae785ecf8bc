// UDP capture path (nat REDIRECT + conntrack lookup) under request/response load, with br_netfilter on.
//   pldp-ub-pod [10.88.0.2] -- veth -- [bridge pldp-ubbr0 10.88.0.1] pldp-ub-node (this process: rules + capture)
// The capture echoes each datagram through `reply()`; udp-load.ts keeps 16 requests of 64 bytes in flight.
// Rows: a plain Node echo socket the pod reaches without capture (the floor), captured pod and host flows to an
// off-LAN pod IP (one long flow: one conntrack lookup, then cache hits), and one new flow per request (a
// conntrack lookup each). Also the cost of one lookup, measured in-process.
// Run as root: node packages/dataplane/bench/udp-capture.bench.ts
import { execFile } from 'node:child_process'
import dgram from 'node:dgram'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { createConntrackLookup, createDataplane, createNetfilter, createUdpCapture } from '../src/index.ts'
import { deleteNetnsWithPrefix, enterNetns, exampleTables, sh } from '../src/testing/index.ts'

const LOAD = fileURLToPath(new URL('./udp-load.ts', import.meta.url))
const TOTAL = Number(process.env['BENCH_TOTAL'] ?? 60_000)
const NEW_FLOWS = Number(process.env['BENCH_NEW_FLOWS'] ?? 10_000)

deleteNetnsWithPrefix('pldp-ub')
const n = 'ip -n pldp-ub-node'
sh('ip netns add pldp-ub-node && ip netns add pldp-ub-pod')
sh(`${n} link set lo up && ip -n pldp-ub-pod link set lo up`)
sh('ip link add pldp-ubp0 netns pldp-ub-pod type veth peer name pldp-ubn0 netns pldp-ub-node')
sh(`${n} link add pldp-ubbr0 type bridge && ${n} link set pldp-ubn0 master pldp-ubbr0`)
sh(`${n} addr add 10.88.0.1/24 dev pldp-ubbr0 && ${n} link set pldp-ubbr0 up && ${n} link set pldp-ubn0 up`)
// Host-originated datagrams need some route before nat OUTPUT redirects them: towards an empty third namespace.
sh(
  'ip netns add pldp-ub-remote && ip link add pldp-ubn1 netns pldp-ub-node type veth peer name pldp-ubr0 netns pldp-ub-remote',
)
sh(
  `${n} addr add 10.99.0.1/24 dev pldp-ubn1 && ${n} link set pldp-ubn1 up && ip -n pldp-ub-remote link set pldp-ubr0 up`,
)
sh(`${n} route add 10.244.0.0/16 via 10.99.0.2 && ${n} route add 10.96.0.0/16 via 10.99.0.2`)
sh('ip netns exec pldp-ub-node sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1')
sh('ip -n pldp-ub-pod addr add 10.88.0.2/24 dev pldp-ubp0 && ip -n pldp-ub-pod link set pldp-ubp0 up')
sh('ip -n pldp-ub-pod route add default via 10.88.0.1')

const leave = enterNetns('pldp-ub-node')
const udp = createUdpCapture({ port: 15002 }, (d) => d.reply(d.data))
const plain = dgram.createSocket('udp4')
plain.on('message', (m, r) => plain.send(m, r.port, r.address))
await new Promise<void>((resolve) => plain.bind(9999, '10.88.0.1', resolve))
const dp = createDataplane({ netfilter: await createNetfilter() }, { kubeProxy: true })
await dp.start(exampleTables())

interface Load {
  replies: number
  lost: number
  badSource: number
  perSecond: number
  p50us: number
  p99us: number
}
type Row = Load & { cpu: number }

/** Runs udp-load.ts asynchronously, so that this process's event loop (the capture under test) keeps running. */
function load(ns: string, host: string, port: number, total: number, sockets: number): Promise<Row> {
  const args = ['netns', 'exec', ns, process.execPath, LOAD, host, String(port), '16', String(total), String(sockets)]
  const cpu0 = process.cpuUsage()
  return new Promise((resolve, reject) =>
    execFile('ip', args, { timeout: 120_000 }, (err, out) => {
      if (err) return reject(err)
      const cpu = process.cpuUsage(cpu0)
      const r = JSON.parse(out) as Load & { seconds: number }
      resolve({ ...r, cpu: Math.round(((cpu.user + cpu.system) / 1e6 / r.seconds) * 100) })
    }),
  )
}

const rows: Array<[string, Row]> = []
await load('pldp-ub-pod', '10.88.0.1', 9999, 5000, 1) // warm-up
rows.push(['pod -> plain Node echo, no capture (floor)', await load('pldp-ub-pod', '10.88.0.1', 9999, TOTAL, 1)])
await load('pldp-ub-pod', '10.244.9.10', 5300, 5000, 1) // warm-up
rows.push(['pod -> off-LAN pod IP, captured, 1 flow', await load('pldp-ub-pod', '10.244.9.10', 5300, TOTAL, 1)])
rows.push(['pod -> ClusterIP, captured, 1 flow', await load('pldp-ub-pod', '10.96.0.10', 53, TOTAL, 1)])
rows.push(['host -> off-LAN pod IP, captured, 1 flow', await load('pldp-ub-node', '10.244.9.10', 5301, TOTAL, 1)])
rows.push([
  'pod -> off-LAN pod IP, captured, new flow per request',
  await load('pldp-ub-pod', '10.244.9.10', 5302, NEW_FLOWS, NEW_FLOWS),
])

// One conntrack lookup (an entry that exists: the last pod flow's), as the capture makes it once per flow.
const ct = createConntrackLookup()
const probe = dgram.createSocket('udp4')
await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve))
const local = { family: 4 as const, address: '127.0.0.1', port: 9998 }
const client = { family: 4 as const, address: '127.0.0.1', port: probe.address().port }
const echo = dgram.createSocket('udp4')
await new Promise<void>((resolve) => echo.bind(9998, '127.0.0.1', resolve))
await new Promise<void>((resolve) => probe.send('x', 9998, '127.0.0.1', () => resolve()))
await new Promise((r) => setTimeout(r, 50))
for (let i = 0; i < 2000; i++) ct.originalDst('udp', local, client)
const LOOKUPS = 20_000
let t0 = performance.now()
let found = 0
for (let i = 0; i < LOOKUPS; i++) if (ct.originalDst('udp', local, client)) found++
const hitUs = ((performance.now() - t0) * 1000) / LOOKUPS
t0 = performance.now()
for (let i = 0; i < LOOKUPS; i++) ct.originalDst('udp', local, { ...client, port: 1 })
const missUs = ((performance.now() - t0) * 1000) / LOOKUPS
ct.close()
probe.close()
echo.close()

const stats = udp.stats()
await dp.stop()
await udp.close()
plain.close()
leave()
deleteNetnsWithPrefix('pldp-ub')

console.log(`UDP capture, nat REDIRECT + conntrack, br_netfilter on; 64 B, 16 in flight; ${process.version}`)
console.log('| path | replies/s | p50 µs | p99 µs | lost | wrong source | capture process CPU |')
console.log('|---|---|---|---|---|---|---|')
for (const [name, r] of rows) {
  console.log(`| ${name} | ${r.perSecond} | ${r.p50us} | ${r.p99us} | ${r.lost} | ${r.badSource} | ${r.cpu}% |`)
}
console.log(`conntrack lookup: ${hitUs.toFixed(1)} µs found (${found}/${LOOKUPS}), ${missUs.toFixed(1)} µs not found`)
console.log(
  `capture stats: ${stats.datagrams} datagrams, ${stats.flows} flows, ${stats.queries} conntrack queries, ${stats.dropped} dropped, ${stats.localSockets} local sockets`,
)
process.exit(0)
