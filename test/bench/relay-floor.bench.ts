/**
 * What a pass through a relay costs, by implementation, on loopback: the floor under podlink-direct's p50.
 * Four processes per path, as in the lab: the rr client, relay A, relay B, the echo server (the lab's own), with
 * 1 KiB request/response round trips through two relays:
 *   direct   client -> server
 *   haproxy  two haproxy (C, no crypto): the bench's `proxy` path
 *   native   two C relays with AES-128-GCM records between them (relay-floor/native-relay.c: one thread, epoll;
 *            a fixed key, so a measure of C with crypto, not a secure channel)
 *   node     two Node relays with TLS 1.3 AES-128-GCM between them, each joining its sockets with podlink's own
 *            socketFlowStream + splice (relay-floor/node-relay.ts): the fast channel's data path
 * Paths take turns within each round. Per path: p50 and p99 (median over rounds) and the two relays' CPU per round
 * trip (user + system from /proc, so the kernel's share of each write is counted, as it is for the agents).
 * Needs gcc, OpenSSL's headers (libssl-dev) and haproxy. Run: node test/bench/relay-floor.bench.ts [--quick]
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const repo = join(here, '../..')
const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 2 : 5
const ROUND_TRIPS = quick ? 5000 : 20000
const CLK_TCK = 100
const dir = mkdtempSync(join(tmpdir(), 'podlink-relay-floor-'))
const children: ChildProcess[] = []

function cleanup(): void {
  for (const c of children) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
}
process.on('exit', cleanup)

function start(cmd: string, args: string[]): Promise<ChildProcess> {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(c)
  return new Promise((resolve, reject) => {
    c.once('error', reject)
    c.once('exit', (code) => reject(new Error(`${cmd} ${args.join(' ')} exited with ${code} before it was ready`)))
    c.stdout!.on('data', (d: Buffer) => {
      if (/ready|listening/i.test(d.toString())) resolve(c)
    })
  })
}

const cpuTicks = (pids: readonly number[]): number =>
  pids.reduce((sum, pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return sum + Number(f[11]) + Number(f[12])
  }, 0)

function rr(port: number): { p50Ms: number; p99Ms: number } {
  const out = execFileSync(
    process.execPath,
    [join(repo, 'packages/testlab/src/load/rr-load.ts'), 'rr', `127.0.0.1:${port}`, String(ROUND_TRIPS), '1024'],
    { encoding: 'utf8' },
  )
  return JSON.parse(out.trim().split('\n').pop() ?? '{}')
}

// Build the native relay and a certificate for the Node relays' TLS.
const native = join(dir, 'native-relay')
try {
  execFileSync('gcc', ['-O2', '-o', native, join(here, 'relay-floor/native-relay.c'), '-lcrypto', '-lpthread'])
} catch (err) {
  console.error(`cannot build relay-floor/native-relay.c (needs gcc and libssl-dev): ${(err as Error).message}`)
  process.exit(1)
}
const cert = join(dir, 'cert.pem')
const key = join(dir, 'key.pem')
execFileSync('openssl', [
  'req',
  '-x509',
  '-newkey',
  'ec',
  '-pkeyopt',
  'ec_paramgen_curve:prime256v1',
  '-nodes',
  '-keyout',
  key,
  '-out',
  cert,
  '-days',
  '1',
  '-subj',
  '/CN=relay-floor',
])

const base = 17000 + (process.pid % 1000) * 10
const SERVER = base
await start(process.execPath, [
  join(repo, 'packages/testlab/src/echo/echo-server.ts'),
  '--name',
  'floor',
  '--serve',
  `tcp/${SERVER}`,
])
const nodeRelay = join(here, 'relay-floor/node-relay.ts')
const nodeB = await start(process.execPath, [nodeRelay, 'B', String(base + 2), String(SERVER), cert, key])
const nodeA = await start(process.execPath, [nodeRelay, 'A', String(base + 1), String(base + 2), cert, key])
const nativeB = await start(native, ['B', String(base + 4), String(SERVER)])
const nativeA = await start(native, ['A', String(base + 3), String(base + 4)])
const haproxyConf = join(dir, 'haproxy.cfg')
writeFileSync(
  haproxyConf,
  [
    'global',
    '  maxconn 1000',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 120s',
    '  timeout server 120s',
    `listen a`,
    `  bind 127.0.0.1:${base + 5}`,
    `  server b 127.0.0.1:${base + 6}`,
    `listen b`,
    `  bind 127.0.0.1:${base + 6}`,
    `  server s 127.0.0.1:${SERVER}`,
    '',
  ].join('\n'),
)
const haproxy = spawn('haproxy', ['-f', haproxyConf, '-db'], { stdio: 'ignore' })
children.push(haproxy)
await sleep(500)

const paths = [
  { name: 'direct', port: SERVER, pids: [] as number[] },
  { name: 'haproxy', port: base + 5, pids: [haproxy.pid!] },
  { name: 'native', port: base + 3, pids: [nativeA.pid!, nativeB.pid!] },
  { name: 'node', port: base + 1, pids: [nodeA.pid!, nodeB.pid!] },
]
const runs = new Map<string, Array<{ p50Ms: number; p99Ms: number; cpuUs: number }>>()
for (const p of paths) rr(p.port) // warm every path (JIT, connection setup) before measuring
for (let round = 0; round < ROUNDS; round++) {
  for (const p of paths) {
    const before = cpuTicks(p.pids)
    const r = rr(p.port)
    const cpuUs = ((cpuTicks(p.pids) - before) / CLK_TCK / ROUND_TRIPS) * 1e6
    runs.set(p.name, [...(runs.get(p.name) ?? []), { ...r, cpuUs }])
    console.log(
      `round ${round + 1} ${p.name.padEnd(8)} p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, relays ${cpuUs.toFixed(0)} µs CPU per round trip`,
    )
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN
const direct = median(runs.get('direct')!.map((r) => r.p50Ms))
console.log(
  `\nrelay floor: ${ROUNDS} rounds of ${ROUND_TRIPS} 1 KiB round trips through two relays on loopback (medians)`,
)
console.log("path      p50 ms  over direct  p99 ms  relays' CPU µs per round trip")
for (const p of paths) {
  const rs = runs.get(p.name)!
  const p50 = median(rs.map((r) => r.p50Ms))
  console.log(
    `${p.name.padEnd(8)}  ${p50.toFixed(3).padStart(6)}  ${`+${(p50 - direct).toFixed(3)}`.padStart(11)}  ${median(
      rs.map((r) => r.p99Ms),
    )
      .toFixed(3)
      .padStart(6)}  ${p.pids.length === 0 ? '-' : median(rs.map((r) => r.cpuUs)).toFixed(0)}`,
  )
}
cleanup()
process.exit(0)
