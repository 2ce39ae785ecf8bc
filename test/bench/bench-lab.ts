/**
 * The pieces the side-by-side bench drives inside its lab: commands in a namespace, background processes it
 * starts and stops by pid, iperf3 runs, the rr-load tool, CPU of processes from /proc/PID/stat deltas, agent
 * status, and the comparison tunnels (wireguard-go, haproxy) between two hosts.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { daemonPid } from '../../packages/testlab/src/lab/daemons.ts'
import { agentSocketPath, readAgentStatus } from '../../packages/testlab/src/lab/lab-agents.ts'
import { hostNs, stateDir } from '../../packages/testlab/src/lab/names.ts'
import { REPO } from '../lab/lab-cli.ts'

export const LAB = 'benchlab'
export const NODE = process.execPath
export const RR_LOAD = `${REPO}packages/testlab/src/load/rr-load.ts`
const CLK_TCK = 100

export const ns = (host: string): string => hostNs(LAB, host)

/** Runs a command in a host's namespace and returns its stdout; throws with stderr on failure. */
export function nsRun(host: string, argv: readonly string[], timeoutMs = 120_000): string {
  const r = spawnSync('ip', ['netns', 'exec', ns(host), ...argv], {
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
  })
  if (r.status !== 0) throw new Error(`${host}: ${argv.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`)
  return r.stdout
}

const started: ChildProcess[] = []

/** Starts a background process in a namespace; every one is stopped by `stopAll` (by its own pid). */
export function nsSpawn(host: string, argv: readonly string[], env?: Record<string, string>): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', ns(host), ...argv], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  })
  child.stderr?.resume()
  started.push(child)
  return child
}

export async function stopAll(): Promise<void> {
  for (const c of started.splice(0)) {
    if (c.exitCode === null && c.pid !== undefined) c.kill('SIGTERM')
  }
  await sleep(200)
}

/** CPU seconds (user + system) of a process so far, or NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
  } catch {
    return Number.NaN
  }
}

export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN
}

/** Runs `fn` and returns its value with the CPU % (of one core) that `pids` used meanwhile, summed. */
export async function withCpu<T>(
  pids: readonly number[],
  fn: () => Promise<T> | T,
): Promise<{ value: T; cpuPct: number }> {
  const before = pids.map(cpuSeconds)
  const t0 = performance.now()
  const value = await fn()
  const secs = (performance.now() - t0) / 1000
  const used = pids.reduce((sum, pid, i) => sum + (cpuSeconds(pid) - (before[i] ?? 0)), 0)
  return { value, cpuPct: pids.length === 0 ? 0 : Math.round((used / secs) * 100) }
}

export const agentPid = (node: string): number => {
  const pid = daemonPid(LAB, `agent-${node}`)
  if (pid === null) throw new Error(`no agent running on ${node}`)
  return pid
}

export interface PeerView {
  readonly node: string
  readonly path: string
  readonly lan: boolean
  readonly reason: string | null
}
export interface AgentView {
  readonly peers: readonly PeerView[]
  readonly routes: ReadonlyArray<{ cidr: string; node: string; class: string }>
  readonly health: { ready: boolean }
}
export const agentStatus = async (node: string): Promise<AgentView> =>
  (await readAgentStatus(agentSocketPath(LAB, node))) as AgentView

export async function waitFor<T>(
  timeoutMs: number,
  fn: () => Promise<T | undefined>,
): Promise<{ value: T; ms: number } | null> {
  const t0 = performance.now()
  while (performance.now() - t0 < timeoutMs) {
    const v = await fn().catch(() => undefined)
    if (v !== undefined) return { value: v, ms: performance.now() - t0 }
    await sleep(25)
  }
  return null
}

export async function waitReady(nodes: readonly string[], timeoutMs = 60_000): Promise<void> {
  for (const node of nodes) {
    const r = await waitFor(timeoutMs, async () => ((await agentStatus(node)).health.ready ? true : undefined))
    if (r === null) throw new Error(`agent on ${node} not ready within ${timeoutMs} ms`)
  }
}

/** The path `from`'s agent reports to `to`; undefined when it has none or its status does not answer. */
/**
 * The path `from`'s agent reports to `to`. A status that cannot be read (an agent busy for 2 s right after a load
 * run) is retried, then named as such: it once showed as path 'none' in the table.
 */
export const pathOf = async (from: string, to: string): Promise<string> => {
  let last: unknown
  for (let i = 0; i < 4; i++) {
    try {
      return (await agentStatus(from)).peers.find((p) => p.node === to)?.path ?? `no peer ${to}`
    } catch (err) {
      last = err
      await sleep(500)
    }
  }
  return `status unreadable (${last instanceof Error ? last.message : String(last)})`
}

export interface IperfResult {
  readonly mbps: number
  readonly senderCpuPct: number
  readonly receiverCpuPct: number
}

/** iperf3 from `host` to IP:PORT; MB/s = 1e6 B/s received; the first second is omitted (slow start, path set-up). */
export function iperf(host: string, target: string, port: number, seconds: number, flows: number): IperfResult {
  const out = nsRun(
    host,
    ['iperf3', '-c', target, '-p', String(port), '-t', String(seconds), '-O', '1', '-P', String(flows), '-J'],
    (seconds + 30) * 1000,
  )
  const j = JSON.parse(out) as {
    error?: string
    end: {
      sum_received: { bits_per_second: number }
      cpu_utilization_percent: { host_total: number; remote_total: number }
    }
  }
  if (j.error !== undefined) throw new Error(`iperf3 ${host} -> ${target}:${port}: ${j.error}`)
  return {
    mbps: Math.round((j.end.sum_received.bits_per_second / 8 / 1e6) * 10) / 10,
    senderCpuPct: Math.round(j.end.cpu_utilization_percent.host_total),
    receiverCpuPct: Math.round(j.end.cpu_utilization_percent.remote_total),
  }
}

export function rrLoad(host: string, args: readonly string[]): Record<string, number> {
  return JSON.parse(
    nsRun(host, [NODE, RR_LOAD, ...args], 300_000)
      .trim()
      .split('\n')
      .pop() ?? '{}',
  )
}

/** iperf3 server and echo server (the lab's, greeting + echo) on `host`, for the paths that end on a host. */
export function startServers(host: string, echoName: string): void {
  nsSpawn(host, ['iperf3', '-s', '-p', '5201'])
  nsSpawn(host, [NODE, `${REPO}packages/testlab/src/echo/echo-server.ts`, '--name', echoName, '--serve', 'tcp/8080'])
}

const workDir = (): string => {
  const dir = `${stateDir(LAB)}/bench`
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  return dir
}

/**
 * wireguard-go (userspace) between two hosts: 10.98.0.1 on `a`, 10.98.0.2 on `b`, each peer
 * allowed only the other's /32, so the tunnel routes nothing but the two tunnel addresses. Returns the daemons' pids.
 */
export async function startWireguard(a: string, b: string, bUnderlayIp: string): Promise<number[]> {
  const dir = workDir()
  // wireguard-go's control socket is /var/run/wireguard/IFNAME.sock, shared by every namespace: one name per side.
  const hosts = [
    { host: a, dev: `${LAB}-wga`, addr: '10.98.0.1/24' },
    { host: b, dev: `${LAB}-wgb`, addr: '10.98.0.2/24' },
  ] as const
  const keys = hosts.map(({ host }) => {
    const priv = spawnSync('wg', ['genkey'], { encoding: 'utf8' }).stdout.trim()
    const pub = spawnSync('wg', ['pubkey'], { input: `${priv}\n`, encoding: 'utf8' }).stdout.trim()
    writeFileSync(`${dir}/${host}.wgkey`, `${priv}\n`, { mode: 0o600 })
    return { file: `${dir}/${host}.wgkey`, pub }
  })
  // `ip netns exec` execs wireguard-go, so each child's pid is the daemon's.
  const pids = hosts.map(
    ({ host, dev }) => nsSpawn(host, ['wireguard-go', '-f', dev], { WG_PROCESS_FOREGROUND: '1' }).pid ?? 0,
  )
  for (let i = 0; i < 200; i++) {
    const up = hosts.every(({ host, dev }) => spawnSync('ip', ['-n', ns(host), 'link', 'show', dev]).status === 0)
    if (up) break
    await sleep(50)
  }
  const [ka, kb] = keys as [{ file: string; pub: string }, { file: string; pub: string }]
  const [ha, hb] = hosts
  nsRun(a, [
    'wg',
    'set',
    ha.dev,
    'listen-port',
    '51820',
    'private-key',
    ka.file,
    'peer',
    kb.pub,
    'allowed-ips',
    '10.98.0.2/32',
    'endpoint',
    `${bUnderlayIp}:51820`,
    'persistent-keepalive',
    '5',
  ])
  nsRun(b, [
    'wg',
    'set',
    hb.dev,
    'listen-port',
    '51820',
    'private-key',
    kb.file,
    'peer',
    ka.pub,
    'allowed-ips',
    '10.98.0.1/32',
  ])
  for (const { host, dev, addr } of hosts) {
    nsRun(host, ['ip', 'addr', 'add', addr, 'dev', dev])
    nsRun(host, ['ip', 'link', 'set', dev, 'up'])
  }
  return pids
}

/**
 * Two haproxy instances in TCP mode, the same shape as an agent pair: on `a`, `bindIp`:7001/7003 forward to
 * `b`:7002/7004, which forward to the iperf3 (5201) and echo (8080) servers at `targetIp`. Returns their pids.
 * With `bindIp` the address of `a`'s pod bridge, a pod on `a` reaches the pod at `targetIp` through both, the
 * same two pods and hops as a podlink flow (the agents capture at the same bridge).
 */
export async function startHaproxy(
  a: string,
  b: string,
  bUnderlayIp: string,
  targetIp: string,
  bindIp: string,
): Promise<number[]> {
  const dir = workDir()
  const conf = (pairs: Array<[string, string]>): string =>
    [
      'global',
      '  maxconn 9000', // haproxy wants 2 fds per connection under the machine's 20,000 limit
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 120s',
      '  timeout server 120s',
      ...pairs.flatMap(([bind, to], i) => [`listen l${i}`, `  bind ${bind}`, `  server s${i} ${to}`]),
      '',
    ].join('\n')
  writeFileSync(
    `${dir}/haproxy-a.cfg`,
    conf([
      [`${bindIp}:7001`, `${bUnderlayIp}:7002`],
      [`${bindIp}:7003`, `${bUnderlayIp}:7004`],
    ]),
  )
  writeFileSync(
    `${dir}/haproxy-b.cfg`,
    conf([
      [':7002', `${targetIp}:5201`],
      [':7004', `${targetIp}:8080`],
    ]),
  )
  const pids = [
    nsSpawn(a, ['haproxy', '-db', '-f', `${dir}/haproxy-a.cfg`]).pid ?? 0,
    nsSpawn(b, ['haproxy', '-db', '-f', `${dir}/haproxy-b.cfg`]).pid ?? 0,
  ]
  await sleep(300)
  return pids
}

/**
 * `node`'s fast-channel counters for `peer`: flows that took a ready fast socket and flows that found none (and
 * rode libp2p). The difference over a run tells whether a bulk flow measured the fast channel at all.
 */
export async function fastCounters(node: string, peer: string): Promise<{ taken: number; missed: number }> {
  const s = (await readAgentStatus(agentSocketPath(LAB, node)).catch(() => null)) as {
    peers?: Array<{ node: string; fast?: { flows: number; missed: number } | null }>
  } | null
  const f = s?.peers?.find((p) => p.node === peer)?.fast
  return { taken: f?.flows ?? 0, missed: f?.missed ?? 0 }
}
