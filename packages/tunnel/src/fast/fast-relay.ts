import { randomBytes } from 'node:crypto'
import net from 'node:net'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { PodlinkError } from '@podlink/core'
import { connectionIp, relayOf } from '../mesh/connection-path.ts'
import { closeQuietly, jsonLines } from '../mesh/json-lines.ts'
import { listenExclusive } from './fast-channel.ts'

/**
 * `/podlink/fast-relay/1`: a fast-channel socket to a peer only a relay reaches, as two plain TCP legs the relay
 * joins, with the fast channel's TLS end to end over them (the relay sees ciphertext only, as with libp2p's
 * circuit relay, and the ends prove each other exactly as on a direct fast socket).
 *   requester R -> relay X (over their libp2p connection): {type:relay, to}
 *   X -> target T (over theirs): {type:join, from, token, port}; T dials X:port, sends the token, answers {type:ok}
 *     and hands the socket to its fast listener, which waits for R's TLS hello on it;
 *   X -> R: {type:ok, token, port} (or {type:refuse, reason}); R dials X:port, sends the token, and runs dialFast
 *     over the socket. X joins the two sockets with the token (single use, 10 s) and splices them.
 * The token only pairs the legs: whoever holds it still has to pass the TLS certificates and PSK proof of the
 * ends. The relay's port takes plain TCP; a connection that sends no known token within 5 s is closed.
 */
export const FAST_RELAY_PROTOCOL = '/podlink/fast-relay/1'
const TOKEN_BYTES = 16

export interface FastRelayServer {
  readonly port: number
  /** Tokens handed out and not yet joined, and joined pairs open now. */
  status(): { pending: number; joined: number }
  /** Expect the two legs of a pair (R's and T's) with this token, for `ttlMs`, asked by `requester`. */
  expect(token: Buffer, requester: string, ttlMs?: number): void
  close(): Promise<void>
}

export interface FastRelayServerOptions {
  readonly port: number
  readonly host?: string
  /** Tokens waiting at once, in all and per requester (one member cannot fill the relay). Defaults 1024, 64. */
  readonly maxPending?: number
  readonly maxPendingPerPeer?: number
  /** Join two sockets both ways until both end (the proxy's splice); the relay owns neither after. */
  readonly splice: (a: net.Socket, b: net.Socket) => void
}

/** The relay's plain-TCP listener that joins legs by token. */
export async function startFastRelayServer(options: FastRelayServerOptions): Promise<FastRelayServer> {
  const maxPending = options.maxPending ?? 1024
  const maxPerPeer = options.maxPendingPerPeer ?? 64
  const pending = new Map<string, { first: net.Socket | null; timer: NodeJS.Timeout; requester: string }>()
  const perPeer = new Map<string, number>()
  const settle = (key: string): void => {
    const p = pending.get(key)
    if (p === undefined) return
    clearTimeout(p.timer)
    pending.delete(key)
    const left = (perPeer.get(p.requester) ?? 1) - 1
    if (left === 0) perPeer.delete(p.requester)
    else perPeer.set(p.requester, left)
  }
  const open = new Set<net.Socket>()
  let joined = 0
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
    socket.on('error', () => {})
    socket.setNoDelay(true)
    const timer = setTimeout(() => socket.destroy(), 5_000).unref()
    let got = Buffer.alloc(0)
    const onData = (d: Buffer): void => {
      got = Buffer.concat([got, d])
      if (got.length < TOKEN_BYTES) return
      clearTimeout(timer)
      socket.off('data', onData)
      socket.pause()
      const key = got.subarray(0, TOKEN_BYTES).toString('hex')
      const rest = got.subarray(TOKEN_BYTES)
      if (rest.length > 0) socket.unshift(rest)
      const p = pending.get(key)
      if (p === undefined) {
        socket.destroy()
        return
      }
      if (p.first === null || p.first.destroyed) {
        p.first = socket
        return
      }
      settle(key)
      joined++
      let left = 2
      const done = (): void => {
        if (--left === 0) joined--
      }
      p.first.once('close', done)
      socket.once('close', done)
      options.splice(p.first, socket)
    }
    socket.on('data', onData)
    socket.resume()
  })
  server.maxConnections = 8192
  await listenExclusive(server, options.port, options.host)
  return {
    port: (server.address() as net.AddressInfo).port,
    status: () => ({ pending: pending.size, joined }),
    expect(token, requester, ttlMs = 10_000) {
      if (pending.size >= maxPending)
        throw new PodlinkError('FAST_RELAY_BUSY', `Cannot relay a fast socket as ${maxPending} joins are pending`)
      const mine = perPeer.get(requester) ?? 0
      if (mine >= maxPerPeer)
        throw new PodlinkError(
          'FAST_RELAY_BUSY',
          `Cannot relay a fast socket as ${maxPerPeer} joins of this peer are pending`,
        )
      const key = token.toString('hex')
      const timer = setTimeout(() => {
        pending.get(key)?.first?.destroy()
        settle(key)
      }, ttlMs).unref()
      pending.set(key, { first: null, timer, requester })
      perPeer.set(requester, mine + 1)
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const p of pending.values()) {
          clearTimeout(p.timer)
          p.first?.destroy()
        }
        pending.clear()
        server.close(() => resolve())
        for (const s of open) s.destroy()
      }),
  }
}

/** Dial the relay's port and send the token: one leg. */
function dialLeg(host: string, port: number, token: Buffer, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, noDelay: true })
    const onAbort = (): void => {
      socket.destroy()
      reject(new PodlinkError('FAST_RELAY_FAILED', `Cannot reach the relay at ${host}:${port} as it was aborted`))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      signal.removeEventListener('abort', onAbort)
      reject(
        new PodlinkError(
          'FAST_RELAY_FAILED',
          `Cannot reach the relay at ${host}:${port} as ${err.code ?? err.message}`,
        ),
      )
    })
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort)
      socket.removeAllListeners('error')
      socket.on('error', () => {})
      socket.write(token)
      resolve(socket)
    })
  })
}

export interface FastRelayDeps {
  readonly libp2p: Libp2p
  /** This node's relay listener, when it relays (null elsewhere: a request to it is refused). */
  relay(): FastRelayServer | null
  /** Give a joined leg (this node is the target) to the fast listener, as a socket it accepted. */
  adopt(socket: net.Socket): void
  /** Whether this node takes fast sockets at all (its fast listener runs). */
  accepting(): boolean
}

/**
 * The requester's half, over a relayed libp2p connection to the peer: a TCP socket through the same relay,
 * joined to the peer, ready for dialFast({ socket }). Rejects with FAST_RELAY_REFUSED (the relay or the peer said
 * no, with why) or FAST_RELAY_FAILED.
 */
export async function relayFastSocket(libp2p: Libp2p, relayed: Connection, signal: AbortSignal): Promise<net.Socket> {
  const relayId = relayOf(relayed)
  const host = connectionIp(relayed)
  if (!relayId || host === undefined)
    throw new PodlinkError('FAST_RELAY_REFUSED', `Cannot find the relay in ${relayed.remoteAddr.toString()}`)
  const toRelay = libp2p.getConnections(peerIdFromString(relayId)).find((c) => c.limits == null)
  if (toRelay === undefined)
    throw new PodlinkError('FAST_RELAY_REFUSED', `Cannot ask the relay ${relayId} as we hold no connection to it`)
  const stream = await toRelay.newStream(FAST_RELAY_PROTOCOL, { signal })
  try {
    const lines = jsonLines(stream)
    lines.write({ type: 'relay', to: relayed.remotePeer.toString() })
    const reply = await lines.read(signal)
    if (reply.type !== 'ok' || typeof reply.token !== 'string' || typeof reply.port !== 'number')
      throw new PodlinkError(
        'FAST_RELAY_REFUSED',
        `The relay gives no fast socket: ${typeof reply.reason === 'string' ? reply.reason : 'bad answer'}`,
      )
    return await dialLeg(host, reply.port, Buffer.from(reply.token, 'hex'), signal)
  } finally {
    void closeQuietly(stream)
  }
}

/** Both halves that answer: the relay's (`relay`) and the target's (`join`). Register with libp2p.handle. */
export function createFastRelayHandler(deps: FastRelayDeps): (stream: Stream, connection: Connection) => Promise<void> {
  return async (stream, connection) => {
    const signal = AbortSignal.timeout(10_000)
    const lines = jsonLines(stream)
    try {
      const request = await lines.read(signal)
      if (request.type === 'relay') {
        const relay = deps.relay()
        const to = typeof request.to === 'string' ? request.to : ''
        let target: Connection | undefined
        try {
          target = deps.libp2p.getConnections(peerIdFromString(to)).find((c) => c.limits == null)
        } catch {
          target = undefined
        }
        if (relay === null || target === undefined) {
          lines.write({ type: 'refuse', reason: relay === null ? 'not a relay' : `no connection to ${to}` })
          return
        }
        const token = randomBytes(TOKEN_BYTES)
        relay.expect(token, connection.remotePeer.toString())
        const join = await target.newStream(FAST_RELAY_PROTOCOL, { signal })
        try {
          const jl = jsonLines(join)
          jl.write({
            type: 'join',
            from: connection.remotePeer.toString(),
            token: token.toString('hex'),
            port: relay.port,
          })
          const answer = await jl.read(signal)
          if (answer.type !== 'ok') {
            lines.write({ type: 'refuse', reason: `the peer did not join: ${String(answer.reason ?? 'no answer')}` })
            return
          }
        } finally {
          void closeQuietly(join)
        }
        lines.write({ type: 'ok', token: token.toString('hex'), port: relay.port })
        return
      }
      if (request.type === 'join') {
        const host = connectionIp(connection)
        if (
          !deps.accepting() ||
          host === undefined ||
          typeof request.token !== 'string' ||
          typeof request.port !== 'number'
        ) {
          lines.write({ type: 'refuse', reason: deps.accepting() ? 'bad join' : 'no fast listener here' })
          return
        }
        const socket = await dialLeg(host, request.port, Buffer.from(request.token, 'hex'), signal)
        deps.adopt(socket)
        lines.write({ type: 'ok' })
        return
      }
      lines.write({ type: 'refuse', reason: 'unknown request' })
    } catch (err) {
      try {
        lines.write({ type: 'refuse', reason: (err as Error).message })
      } catch {
        // the stream is gone
      }
    } finally {
      await closeQuietly(stream)
    }
  }
}
