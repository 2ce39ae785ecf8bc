/**
 * Drives the mesh lab for mesh.lab.test.ts and bench/paths.bench.ts: brings up topologies/meshlab.yaml with
 * `--no-agents`, runs one mesh-peer.ts per node in its namespace, and talks to each over JSON lines.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { generateSwarmKey, writeSwarmKey } from '../node/swarm-key.ts'

export const LAB = 'meshlab'
export const PORT = 4001
const REPO = fileURLToPath(new URL('../../../../', import.meta.url))
const TOPOLOGY = fileURLToPath(new URL('./topologies/meshlab.yaml', import.meta.url))
const PEER = fileURLToPath(new URL('./mesh-peer.ts', import.meta.url))
export const STATE = '/tmp/podlink-meshlab'

/** Public addresses of the 1:1-NATed cloud nodes (see meshlab.yaml). */
export const PUBLIC_IP: Record<string, string> = {
  'relay-1': '203.0.113.11',
  'relay-2': '203.0.113.12',
  'pub-1': '203.0.113.13',
}
export const RELAYS = ['relay-1', 'relay-2'] as const

function labCli(args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, [`${REPO}packages/testlab/src/cli/main.ts`, ...args], {
    encoding: 'utf8',
    cwd: REPO,
    timeout: 120_000,
  })
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` }
}

/** `noDelay`: the same topology without the routers' delays (the userspace delayer caps throughput). */
export async function labUp(options: { noDelay?: boolean } = {}): Promise<{ pskFile: string; otherPskFile: string }> {
  labCli(['down', LAB])
  rmSync(STATE, { recursive: true, force: true })
  mkdirSync(STATE, { recursive: true })
  let file = TOPOLOGY
  if (options.noDelay === true) {
    file = `${STATE}/meshlab-nodelay.yaml`
    writeFileSync(file, readFileSync(TOPOLOGY, 'utf8').replace(/, delayMs: \d+/g, ''))
  }
  const r = labCli(['up', file, '--no-agents'])
  if (r.code !== 0) throw new Error(`lab up failed: ${r.out}`)
  const pskFile = `${STATE}/swarm.key`
  const otherPskFile = `${STATE}/other.key`
  await writeSwarmKey(pskFile, generateSwarmKey())
  await writeSwarmKey(otherPskFile, generateSwarmKey())
  return { pskFile, otherPskFile }
}

export function labDown(): void {
  labCli(['down', LAB])
}

export interface MeshProc {
  readonly name: string
  readonly peerId: string
  readonly proc: ChildProcessWithoutNullStreams
  call(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<Record<string, unknown>>
  kill(): Promise<void>
}

export interface PeerSpec {
  node: string
  port?: number
  pskFile: string
  relayServer?: boolean
  keyName?: string
}

let callId = 0

export function startPeer(spec: PeerSpec): Promise<MeshProc> {
  const port = spec.port ?? PORT
  const pub = PUBLIC_IP[spec.node]
  const config = {
    keyFile: `${STATE}/${spec.keyName ?? spec.node}.key`,
    pskFile: spec.pskFile,
    port,
    relayServer: spec.relayServer === true,
    announce: pub !== undefined ? [`/ip4/${pub}/tcp/${port}`] : [],
    publicRanges: ['203.0.113.0/24'],
  }
  const debug = process.env.MESH_DEBUG_NODE === spec.node ? ['env', `DEBUG=${process.env.MESH_DEBUG}`] : []
  const proc = spawn('ip', [
    'netns',
    'exec',
    `${LAB}.${spec.node}`,
    ...debug,
    process.execPath,
    PEER,
    JSON.stringify(config),
  ])
  const waiters = new Map<number, (r: Record<string, unknown>) => void>()
  let first: ((r: Record<string, unknown>) => void) | null = null
  proc.stderr.on('data', (d: Buffer) => process.stderr.write(`[${spec.node}] ${d}`))
  createInterface({ input: proc.stdout }).on('line', (line) => {
    let msg: Record<string, unknown>
    try {
      msg = JSON.parse(line) as Record<string, unknown>
    } catch {
      process.stderr.write(`[${spec.node}] ${line}\n`)
      return
    }
    if (first !== null && typeof msg.peerId === 'string' && msg.id === undefined) {
      first(msg)
      first = null
      return
    }
    const w = waiters.get(Number(msg.id))
    waiters.delete(Number(msg.id))
    w?.(msg)
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${spec.node}: no peer ID in 20 s`)), 20_000)
    proc.once('exit', (code) => reject(new Error(`${spec.node} exited with ${code}`)))
    first = (msg) => {
      clearTimeout(timer)
      resolve({
        name: spec.node,
        peerId: String(msg.peerId),
        proc,
        call(cmd, args = {}, timeoutMs = 30_000) {
          const id = ++callId
          return new Promise((res, rej) => {
            const t = setTimeout(() => rej(new Error(`${spec.node} ${cmd}: no answer in ${timeoutMs} ms`)), timeoutMs)
            waiters.set(id, (r) => {
              clearTimeout(t)
              if (typeof r.error === 'string') rej(new Error(`${spec.node} ${cmd}: ${r.error}`))
              else res(r)
            })
            proc.stdin.write(`${JSON.stringify({ id, cmd, ...args })}\n`)
          })
        },
        kill() {
          return new Promise<void>((res) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return res()
            proc.once('exit', () => res())
            proc.kill('SIGKILL')
          })
        },
      })
    }
  })
}

/** What every agent is told: members, relays, peers (nothing in this lab shares a LAN). */
export function setupArgs(all: readonly MeshProc[], self: MeshProc): Record<string, unknown> {
  const relays = all
    .filter((p) => (RELAYS as readonly string[]).includes(p.name))
    .map((p) => ({ node: p.name, peerId: p.peerId, addrs: [`/ip4/${PUBLIC_IP[p.name]}/tcp/${PORT}`] }))
  const pub = PUBLIC_IP[self.name]
  return {
    members: all.map((p) => p.peerId),
    relays,
    publicAddrs: pub !== undefined ? [`/ip4/${pub}/tcp/${PORT}`] : [],
    peers: all.map((p) => ({
      node: p.name,
      peerId: p.peerId,
      lan: false,
      publicAddrs: PUBLIC_IP[p.name] !== undefined ? [`/ip4/${PUBLIC_IP[p.name]}/tcp/${PORT}`] : [],
    })),
  }
}
