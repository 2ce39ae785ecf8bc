import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import type tls from 'node:tls'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { createTunnelNode, type TunnelNode } from '../node/create-tunnel-node.ts'
import { dialFast, fastCredentials, startFastServer } from './fast-channel.ts'
import {
  createFastRelayHandler,
  FAST_RELAY_PROTOCOL,
  type FastRelayServer,
  relayFastSocket,
  startFastRelayServer,
} from './fast-relay.ts'

const stops: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s()
})
const sha = (x: Buffer) => createHash('sha256').update(x).digest('hex')

/** R (requester) and T (target) each connected to X (the relay) on loopback; T runs a fast listener. */
async function triangle(options: { xRelays?: boolean } = {}) {
  const psk = randomBytes(32)
  const base = { listen: ['/ip4/127.0.0.1/tcp/0'], publicRanges: ['127.0.0.0/8'] }
  const keys = await Promise.all([0, 1, 2].map(() => generateKeyPair('Ed25519')))
  const [r, x, t] = (await Promise.all(keys.map((k) => createTunnelNode(base, { privateKey: k })))) as [
    TunnelNode,
    TunnelNode,
    TunnelNode,
  ]
  stops.push(
    () => r.stop(),
    () => x.stop(),
    () => t.stop(),
  )
  const all = [r.peerId, x.peerId, t.peerId]
  for (const n of [r, x, t]) await n.setMembers(all.filter((p) => p !== n.peerId))
  const cr = await fastCredentials(keys[0]!, psk)
  const ct = await fastCredentials(keys[2]!, psk)
  const got: Array<{ socket: tls.TLSSocket; peer: string }> = []
  const server = await startFastServer(
    { port: 0, host: '127.0.0.1', credentials: ct, isMember: (p) => p === r.peerId },
    (socket, peer) => got.push({ socket, peer }),
  )
  stops.push(() => server.close())
  let relay: FastRelayServer | null = null
  if (options.xRelays !== false) {
    relay = await startFastRelayServer({
      port: 0,
      host: '127.0.0.1',
      splice: (a, b) => {
        a.pipe(b)
        b.pipe(a)
        a.resume()
        b.resume()
      },
    })
    stops.push(() => relay!.close())
  }
  const handler = (adopt: (s: net.Socket) => void, relayOf: () => FastRelayServer | null) =>
    createFastRelayHandler({ libp2p: x.libp2p, relay: relayOf, adopt, accepting: () => true })
  await x.libp2p.handle(
    FAST_RELAY_PROTOCOL,
    handler(
      (s) => s.destroy(),
      () => relay,
    ),
  )
  await t.libp2p.handle(
    FAST_RELAY_PROTOCOL,
    createFastRelayHandler({
      libp2p: t.libp2p,
      relay: () => null,
      adopt: (s) => server.adopt(s),
      accepting: () => true,
    }),
  )
  await r.libp2p.dial(x.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5000) })
  await t.libp2p.dial(x.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5000) })
  // The relayed connection R -> T as the mesh would hold it: only its address and remote peer are read.
  const xAddr = x.libp2p.getMultiaddrs()[0]!
  const relayed = {
    remoteAddr: multiaddr(`${xAddr.toString()}/p2p-circuit/p2p/${t.peerId}`),
    remotePeer: t.libp2p.peerId,
  } as unknown as Connection
  return { r, x, t, cr, got, relay, relayed }
}

describe('fast relay (three tunnel nodes on loopback)', () => {
  it('joins two TCP legs at the relay and runs the fast handshake end to end over them', async () => {
    const { r, t, cr, got, relay, relayed } = await triangle()
    const leg = await relayFastSocket(r.libp2p, relayed, AbortSignal.timeout(5000))
    const socket = await dialFast({
      host: '',
      port: -1,
      socket: leg,
      peer: t.peerId,
      credentials: cr,
      signal: AbortSignal.timeout(5000),
    })
    await expect.poll(() => got.length).toBe(1)
    expect(got[0]!.peer).toBe(r.peerId) // the target proved the requester end to end, not the relay
    expect(relay!.status()).toEqual({ pending: 0, joined: 1 })
    const data = randomBytes(2 * 1024 * 1024)
    const chunks: Buffer[] = []
    const far = got[0]!.socket
    far.on('data', (c: Buffer) => chunks.push(c))
    far.resume()
    const ended = new Promise<void>((res) => far.once('end', res))
    socket.end(data)
    await ended
    expect(sha(Buffer.concat(chunks))).toBe(sha(data))
  })

  it('a node that is not a relay refuses, and says so', async () => {
    const { r, relayed } = await triangle({ xRelays: false })
    await expect(relayFastSocket(r.libp2p, relayed, AbortSignal.timeout(5000))).rejects.toThrow(/not a relay/)
  })

  it('the relay refuses a peer it holds no connection to', async () => {
    const { r, x, relayed } = await triangle()
    const stranger = (await generateKeyPair('Ed25519')).publicKey
    const { peerIdFromPublicKey } = await import('@libp2p/peer-id')
    const other = peerIdFromPublicKey(stranger)
    const xAddr = x.libp2p.getMultiaddrs()[0]!
    const toNobody = {
      remoteAddr: multiaddr(`${xAddr.toString()}/p2p-circuit/p2p/${other.toString()}`),
      remotePeer: other,
    } as unknown as Connection
    void relayed
    await expect(relayFastSocket(r.libp2p, toNobody, AbortSignal.timeout(5000))).rejects.toThrow(/no connection/)
  })

  it('the relay port closes a connection with an unknown token, and one that sends none', async () => {
    const { relay } = await triangle()
    const closed = (write: Buffer | null) =>
      new Promise<number>((resolve) => {
        const t0 = Date.now()
        const s = net.connect(relay!.port, '127.0.0.1', () => {
          if (write) s.write(write)
        })
        s.on('error', () => {})
        s.on('close', () => resolve(Date.now() - t0))
        s.resume()
      })
    expect(await closed(randomBytes(16))).toBeLessThan(1000)
    expect(await closed(null)).toBeGreaterThanOrEqual(4900)
  }, 10_000)

  it('caps the joins one requester may have pending, and all of them', async () => {
    const relay = await startFastRelayServer({
      port: 0,
      host: '127.0.0.1',
      maxPending: 3,
      maxPendingPerPeer: 2,
      splice: () => {},
    })
    stops.push(() => relay.close())
    relay.expect(randomBytes(16), 'peer-a')
    relay.expect(randomBytes(16), 'peer-a')
    expect(() => relay.expect(randomBytes(16), 'peer-a')).toThrow(/2 joins of this peer/)
    relay.expect(randomBytes(16), 'peer-b')
    expect(() => relay.expect(randomBytes(16), 'peer-c')).toThrow(/3 joins are pending/)
    expect(relay.status().pending).toBe(3)
  })
})
