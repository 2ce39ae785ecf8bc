import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import type tls from 'node:tls'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { createTunnelNode, type TunnelNode } from '../node/create-tunnel-node.ts'
import { dialFast, fastCredentials, startFastServer } from './fast-channel.ts'
import {
  createFastPunchHandler,
  createPunchPorts,
  FAST_PUNCH_PROTOCOL,
  type FastPunchDeps,
  parsePunchPorts,
  punchFastSocket,
} from './fast-punch.ts'

const stops: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s()
})

describe('punch ports', () => {
  it('hands out each port once, rests a released one, and says when none is left', () => {
    let t = 0
    const ports = createPunchPorts(5000, 5002, { quietMs: 1000, now: () => t })
    expect([ports.take(), ports.take(), ports.take()]).toEqual([5000, 5001, 5002])
    expect(ports.take()).toBeNull()
    ports.release(5001)
    expect(ports.take()).toBeNull() // resting (TIME_WAIT)
    expect(ports.busy()).toBe(3)
    t = 1000
    expect(ports.take()).toBe(5001)
  })

  it('reads FIRST-LAST and off, and names a bad range', () => {
    expect(parsePunchPorts('4010-4073')).toEqual({ first: 4010, last: 4073 })
    expect(parsePunchPorts('off')).toBeNull()
    expect(() => parsePunchPorts('4010')).toThrow(/FIRST-LAST/)
    expect(() => parsePunchPorts('4073-4010')).toThrow(/4073-4010/)
    expect(() => parsePunchPorts('0-70000')).toThrow(/1-65535/)
  })
})

describe('fast punch (two tunnel nodes on loopback)', () => {
  async function pair(responderRefusal: string | null = null, responder: Partial<FastPunchDeps> = {}) {
    const psk = randomBytes(32)
    const base = { listen: ['/ip4/127.0.0.1/tcp/0'], publicRanges: ['127.0.0.0/8'] }
    const ka = await generateKeyPair('Ed25519')
    const kb = await generateKeyPair('Ed25519')
    const a: TunnelNode = await createTunnelNode(base, { privateKey: ka })
    const b: TunnelNode = await createTunnelNode(base, { privateKey: kb })
    stops.push(
      () => a.stop(),
      () => b.stop(),
    )
    await a.setMembers([b.peerId])
    await b.setMembers([a.peerId])
    const ca = await fastCredentials(ka, psk)
    const cb = await fastCredentials(kb, psk)
    const got: Array<{ socket: tls.TLSSocket; peer: string }> = []
    const server = await startFastServer(
      { port: 0, host: '127.0.0.1', credentials: cb, isMember: (p) => p === a.peerId },
      (socket, peer) => got.push({ socket, peer }),
    )
    stops.push(() => server.close())
    // On one host SYNs never cross (loopback delivers each at once, to no listener), so the two ends of the
    // "punch" are joined here: the requester connects to a listener and the responder gets the accepted socket.
    // What is tested is the signalling, the ports, the TLS over the socket and the adoption; the punch itself is
    // tested through real NATs in the lab (punch.lab.test.ts, and fast flows to punched peers in the lab tests).
    const joiner = net.createServer()
    await new Promise<void>((r) => joiner.listen(0, '127.0.0.1', r))
    stops.push(() => void joiner.close())
    const accepted: net.Socket[] = []
    const waiting: Array<(s: net.Socket) => void> = []
    joiner.on('connection', (s) => {
      const w = waiting.shift()
      if (w) w(s)
      else accepted.push(s)
    })
    const joinerPort = (joiner.address() as net.AddressInfo).port
    const requesterConnect = async (o: { localPort: number; remotePort: number }) => {
      const s = net.connect({ port: joinerPort, host: '127.0.0.1', localPort: o.localPort })
      await new Promise<void>((r, j) => s.once('connect', r).once('error', j))
      return s
    }
    const responderConnect = () =>
      new Promise<net.Socket>((r) => {
        const s = accepted.shift()
        if (s) r(s)
        else waiting.push(r)
      })
    const mine: FastPunchDeps = {
      ports: createPunchPorts(41010, 41013),
      refusal: () => null,
      connect: requesterConnect,
    }
    const theirs: FastPunchDeps = {
      ports: createPunchPorts(41020, 41023),
      refusal: () => responderRefusal,
      connect: responderConnect,
      ...responder,
    }
    await b.libp2p.handle(
      FAST_PUNCH_PROTOCOL,
      createFastPunchHandler(theirs, (s: net.Socket) => server.adopt(s)),
    )
    const conn: Connection = await a.libp2p.dial(b.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5000) })
    return { a, b, ca, got, mine, theirs, conn }
  }

  it('punches a socket both ways, runs the fast handshake over it, and the listener adopts it', async () => {
    const { b, ca, got, mine, theirs, conn } = await pair()
    const raw = await punchFastSocket(mine, conn, AbortSignal.timeout(5000))
    expect(raw.localPort).toBeGreaterThanOrEqual(41010)
    expect(raw.localPort).toBeLessThanOrEqual(41013)
    const socket = await dialFast({
      host: '',
      port: 0,
      socket: raw,
      peer: b.peerId,
      credentials: ca,
      signal: AbortSignal.timeout(5000),
    })
    await expect.poll(() => got.length).toBe(1)
    const server = got[0]!.socket
    const data = randomBytes(1024 * 1024)
    const chunks: Buffer[] = []
    server.on('data', (c: Buffer) => chunks.push(c))
    server.resume()
    const ended = new Promise<void>((r) => server.once('end', r))
    socket.end(data)
    await ended
    const sha = (x: Buffer) => createHash('sha256').update(x).digest('hex')
    expect(sha(Buffer.concat(chunks))).toBe(sha(data))
    expect(mine.ports.busy()).toBe(1)
    expect(theirs.ports.busy()).toBe(1)
    socket.destroy()
    server.destroy()
    // Closed: both ports rest (TIME_WAIT), they are not handed out again at once.
    await expect.poll(() => mine.ports.take()).not.toBe(raw.localPort)
  })

  it('a responder that cannot take part says why, and the requester frees its port', async () => {
    const { conn, mine } = await pair('we are behind a symmetric NAT')
    await expect(punchFastSocket(mine, conn, AbortSignal.timeout(5000))).rejects.toThrow(/symmetric NAT/)
    expect(mine.ports.busy()).toBe(1) // the port rests: a SYN may have left
    expect(mine.ports.take()).not.toBeNull()
  })

  it('a requester whose own NAT changes ports does not ask', async () => {
    const { conn } = await pair()
    const deps: FastPunchDeps = {
      ports: createPunchPorts(41030, 41031),
      refusal: () => 'our NAT does not keep source ports',
    }
    await expect(punchFastSocket(deps, conn, AbortSignal.timeout(5000))).rejects.toThrow(/keep source ports/)
    expect(deps.ports.busy()).toBe(0)
  })

  it('a responder runs at most maxPerPeer punches of one peer at once', async () => {
    // The responder's punches never complete: its first one is still running when the second request comes.
    const { conn, mine } = await pair(null, { maxPerPeer: 1, connect: () => new Promise<never>(() => {}) })
    const first = punchFastSocket(mine, conn, AbortSignal.timeout(1500)).catch((e: Error) => e)
    await new Promise((r) => setTimeout(r, 300))
    await expect(punchFastSocket(mine, conn, AbortSignal.timeout(1500))).rejects.toThrow(/1 punches from this peer/)
    // (The test's own join hands the requester its end whatever the responder does.)
    const got = await first
    if (!(got instanceof Error)) got.destroy()
  })
})
