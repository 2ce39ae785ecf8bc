/**
 * One mesh agent for the mesh lab tests and bench, run as its own process inside a lab node namespace:
 *   node mesh-peer.ts '{"keyFile","pskFile","port","relayServer","announce":[...],"publicRanges":[...]}'
 * Prints {"peerId"} when listening, then answers one JSON line per JSON command on stdin ({id, cmd, ...}):
 * setup, waitReserved, connect, waitPath, streams, hold, holdCheck, status, dial, bench. See handle() below.
 */
import { createInterface } from 'node:readline'
import type { Connection, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createMesh, type Mesh, type MeshPeer } from '../mesh/create-mesh.ts'
import { createMeshNode } from '../mesh/create-mesh-node.ts'
import type { RelayInfo } from '../mesh/relay-keeper.ts'
import { loadOrCreateIdentityKey } from '../node/identity-key.ts'
import { loadSwarmKey } from '../node/swarm-key.ts'

const ECHO = '/podlink/test-echo/1'
const SINK = '/podlink/test-sink/1'
const CHUNK = 64 * 1024

const config = JSON.parse(process.argv[2] ?? '{}') as {
  keyFile: string
  pskFile: string
  port: number
  relayServer?: boolean
  announce?: string[]
  publicRanges?: string[]
  members?: string[]
}
const node = await createMeshNode(
  {
    listen: [`/ip4/0.0.0.0/tcp/${config.port}`],
    announce: config.announce ?? [],
    publicRanges: config.publicRanges ?? [],
    psk: { key: await loadSwarmKey(config.pskFile), mode: 'proof' },
    relayServer: config.relayServer === true,
    members: config.members ?? [],
  },
  { privateKey: await loadOrCreateIdentityKey(config.keyFile) },
)
const inbound: string[] = []
await node.libp2p.handle(ECHO, async (stream, connection) => {
  inbound.push(connection.remotePeer.toString())
  for await (const chunk of stream) stream.send(chunk)
  await stream.close()
})
await node.libp2p.handle(SINK, async (stream) => {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let n = 0
  for await (const chunk of stream) n += chunk.byteLength
  const cpu = process.cpuUsage(cpu0)
  const ms = performance.now() - t0
  stream.send(new TextEncoder().encode(JSON.stringify({ n, cpuPct: ((cpu.user + cpu.system) / 1000 / ms) * 100 })))
  await stream.close()
})

let mesh: Mesh | null = null
const held = new Map<number, Stream>()
const say = (o: object): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`)
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const must = (): Mesh => {
  if (mesh === null) throw new Error('setup first')
  return mesh
}
const pathOf = (peerId: string): string | undefined =>
  must()
    .peers()
    .find((p) => p.peerId === peerId)?.path
const kindOf = (c: Connection): string => (c.remoteAddr.toString().includes('/p2p-circuit') ? 'relay' : 'direct')

async function echoOnce(conn: Connection, text: string): Promise<boolean> {
  const s = await conn.newStream(ECHO, { signal: AbortSignal.timeout(5_000) })
  s.send(new TextEncoder().encode(text))
  await s.close()
  let got = ''
  for await (const c of s) got += new TextDecoder().decode(c.subarray())
  return got === text
}

async function readOne(s: Stream, signal: AbortSignal): Promise<string> {
  const it = s[Symbol.asyncIterator]()
  const r = await Promise.race([
    it.next(),
    new Promise<never>((_, rej) => signal.addEventListener('abort', () => rej(signal.reason), { once: true })),
  ])
  return r.done === true ? '' : new TextDecoder().decode((r.value as { subarray(): Uint8Array }).subarray())
}

let nextHold = 1
/** What the mesh's onPath told, in order. */
const pathChanges: { peerId: string; from: string; to: string }[] = []
async function handle(m: Record<string, unknown>): Promise<object> {
  const peer = String(m.peerId ?? '')
  const timeoutMs = Number(m.timeoutMs ?? 10_000)
  switch (m.cmd) {
    case 'setup': {
      await node.setMembers(m.members as string[])
      if (mesh === null)
        mesh = await createMesh(
          node,
          {
            meshPort: config.port,
            relays: m.relays as RelayInfo[],
            publicAddrs: (m.publicAddrs as string[] | undefined) ?? [],
          },
          { onPath: (e) => pathChanges.push({ peerId: e.peerId, from: e.from, to: e.to }) },
        )
      mesh.setPeers(m.peers as MeshPeer[])
      return {}
    }
    case 'waitReserved': {
      const t0 = performance.now()
      try {
        await must().waitReserved(Number(m.count ?? 1), AbortSignal.timeout(timeoutMs))
      } catch {
        return { ok: false, relays: must().relays() }
      }
      return { ok: true, ms: Math.round(performance.now() - t0), relays: must().relays() }
    }
    case 'waitRelay': {
      const t0 = performance.now()
      while (
        !must()
          .relays()
          .some((r) => r.node === m.node && r.reserved)
      ) {
        if (performance.now() - t0 > timeoutMs) return { ok: false, relays: must().relays() }
        await sleep(50)
      }
      return { ok: true, ms: Math.round(performance.now() - t0) }
    }
    case 'connect': {
      const t0 = performance.now()
      const conn = await must().connectionFor(peer, AbortSignal.timeout(timeoutMs))
      return { ms: Math.round(performance.now() - t0), kind: kindOf(conn), path: pathOf(peer) }
    }
    case 'waitPath': {
      const t0 = performance.now()
      while (pathOf(peer) !== m.path) {
        if (performance.now() - t0 > timeoutMs)
          return {
            ok: false,
            status: must()
              .peers()
              .find((p) => p.peerId === peer),
          }
        await sleep(20)
      }
      return {
        ok: true,
        ms: Math.round(performance.now() - t0),
        status: must()
          .peers()
          .find((p) => p.peerId === peer),
      }
    }
    case 'streams': {
      let ok = 0
      const kinds: Record<string, number> = {}
      const errors: string[] = []
      for (let i = 0; i < Number(m.count ?? 1); i++) {
        try {
          const conn = await must().connectionFor(peer, AbortSignal.timeout(5_000))
          kinds[kindOf(conn)] = (kinds[kindOf(conn)] ?? 0) + 1
          if (await echoOnce(conn, `flow ${i} ${'x'.repeat(1000)}`)) ok++
        } catch (err) {
          errors.push(String(err))
        }
      }
      return { ok, kinds, errors: errors.slice(0, 3) }
    }
    case 'hold': {
      const conn = await must().connectionFor(peer, AbortSignal.timeout(5_000))
      const s = await conn.newStream(ECHO, { signal: AbortSignal.timeout(5_000) })
      const id = nextHold++
      held.set(id, s)
      return { holdId: id, kind: kindOf(conn) }
    }
    case 'holdCheck': {
      const s = held.get(Number(m.holdId))
      if (s === undefined) return { ok: false }
      const text = `still here ${Date.now()}`
      s.send(new TextEncoder().encode(text))
      const got = await readOne(s, AbortSignal.timeout(5_000))
      return { ok: got === text }
    }
    case 'pathChanges':
      return { changes: pathChanges.filter((c) => c.peerId === peer).map((c) => `${c.from}->${c.to}`) }
    case 'status':
      return { peers: must().peers(), relays: must().relays(), mapping: must().mapping(), inbound }
    case 'dial': {
      try {
        const conn = await node.libp2p.dial(multiaddr(String(m.addr)), { signal: AbortSignal.timeout(timeoutMs) })
        const echo = await echoOnce(conn, 'outsider')
        return { ok: true, echo }
      } catch (err) {
        return { ok: false, reason: String(err) }
      }
    }
    case 'connections':
      return { peers: node.libp2p.getConnections().map((c) => c.remotePeer.toString()) }
    case 'bench': {
      const conn =
        m.via === 'relay'
          ? node.libp2p.getConnections(peerIdFromString(peer)).find((c) => c.status === 'open' && kindOf(c) === 'relay')
          : await must().connectionFor(peer, AbortSignal.timeout(5_000))
      if (conn === undefined) throw new Error('no such connection')
      const bytes = Number(m.bytes ?? 64 << 20)
      const s = await conn.newStream(SINK, { signal: AbortSignal.timeout(5_000) })
      const payload = new Uint8Array(CHUNK)
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      for (let sent = 0; sent < bytes; sent += CHUNK) if (!s.send(payload)) await s.onDrain()
      await s.close()
      let reply = ''
      for await (const c of s) reply += new TextDecoder().decode(c.subarray())
      const ms = performance.now() - t0
      const cpu = process.cpuUsage(cpu0)
      const r = JSON.parse(reply) as { n: number; cpuPct: number }
      return {
        kind: kindOf(conn),
        path: pathOf(peer),
        mbps: r.n / 1e6 / (ms / 1000),
        senderCpuPct: ((cpu.user + cpu.system) / 1000 / ms) * 100,
        receiverCpuPct: r.cpuPct,
      }
    }
    default:
      throw new Error(`unknown command ${String(m.cmd)}`)
  }
}

say({ peerId: node.peerId })
for await (const line of createInterface({ input: process.stdin })) {
  const m = JSON.parse(line) as Record<string, unknown>
  void handle(m).then(
    (r) => say({ id: m.id, ...r }),
    (err: unknown) => say({ id: m.id, error: String(err) }),
  )
}
await (mesh as Mesh | null)?.stop()
await node.stop()
process.exit(0)
