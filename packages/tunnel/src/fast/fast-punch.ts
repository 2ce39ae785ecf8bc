import type net from 'node:net'
import type { Connection, Stream } from '@libp2p/interface'
import { PodlinkError } from '@podlink/core'
import { connectionIp } from '../mesh/connection-path.ts'
import { closeQuietly, jsonLines } from '../mesh/json-lines.ts'
import { punchConnect } from '../punch/punch-connect.ts'

/**
 * `/podlink/fast-punch/1`: a fast-channel socket to a peer behind a NAT, punched on demand over the punched libp2p
 * connection that already joins us (research/tcp-punch.md §8, the same simultaneous open as the mesh's punch):
 *   R (requester) -> S {type:punch, port}; S -> R {type:punch, port} or {type:refuse, reason}; R -> S {type:sync}.
 * S punches when sync arrives, R half an RTT (measured by the exchange) after sending it. Each side connects from
 * a port of its own punch range to the other's NAT address (the libp2p connection's remote IP) and the other's
 * port. Both NATs must keep source ports (a cone NAT that is Linux MASQUERADE does, when the port is free); each
 * side refuses when it knows it cannot (behind a symmetric NAT), and a punch that misses fails at its deadline. The
 * requester is then the
 * TLS client (dialFast over the socket), the responder's fast listener adopts the socket as if it had accepted it.
 *
 * A 4-tuple cannot carry two connections, and a closed one waits in TIME_WAIT, so every socket takes a port of the
 * range for its life plus `quietMs`.
 */
export const FAST_PUNCH_PROTOCOL = '/podlink/fast-punch/1'

export interface PunchPorts {
  /** A port free for a new punch, now marked in use; null when every port is in use or resting. */
  take(): number | null
  /** The port's socket closed (or its punch failed): usable again after the rest. */
  release(port: number): void
  /** Ports in use or resting now, of `size`. */
  busy(): number
  readonly size: number
}

/** Ports first..last for punched fast sockets; a released port rests `quietMs` (TIME_WAIT is 60 s). */
export function createPunchPorts(
  first: number,
  last: number,
  options: { quietMs?: number; now?: () => number } = {},
): PunchPorts {
  if (!Number.isInteger(first) || !Number.isInteger(last) || first < 1 || last > 65535 || last < first)
    throw new PodlinkError('ERR_CONFIG', `Cannot use the punch port range ${first}-${last}: give FIRST-LAST in 1-65535`)
  const quietMs = options.quietMs ?? 65_000
  const now = options.now ?? Date.now
  const freeAt = new Map<number, number>()
  const inUse = new Set<number>()
  let next = first
  return {
    size: last - first + 1,
    take() {
      const t = now()
      for (let i = 0; i <= last - first; i++) {
        const port = next
        next = next === last ? first : next + 1
        if (!inUse.has(port) && (freeAt.get(port) ?? 0) <= t) {
          inUse.add(port)
          return port
        }
      }
      return null
    },
    release(port) {
      if (!inUse.delete(port)) return
      freeAt.set(port, now() + quietMs)
    },
    busy() {
      const t = now()
      let n = inUse.size
      for (const [port, at] of freeAt) if (at > t && !inUse.has(port)) n++
      return n
    },
  }
}

/** Parses `FIRST-LAST` (e.g. 4100-4227); empty or `off` is null (no punched fast sockets). */
export function parsePunchPorts(text: string): { first: number; last: number } | null {
  const t = text.trim()
  if (t === '' || t === 'off') return null
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(t)
  if (m === null) throw new PodlinkError('ERR_CONFIG', `Cannot read the punch port range "${text}": use FIRST-LAST`)
  const first = Number(m[1])
  const last = Number(m[2])
  createPunchPorts(first, last) // validates
  return { first, last }
}

export interface FastPunchDeps {
  readonly ports: PunchPorts
  /** Null when this node may take part now; else why not (its NAT changes ports, the feature is off). */
  refusal(): string | null
  /** One punch's limit. Default 3000 ms. */
  readonly deadlineMs?: number
  /** Punches one peer may have running at once as the responder. Default 8. */
  readonly maxPerPeer?: number
  /** The simultaneous open (punchConnect; a test on one host, where SYNs never cross, joins the two ends itself). */
  readonly connect?: typeof punchConnect
}

/**
 * The requester's half: a connected TCP socket to the peer at the other end of `conn` (a punched, non-relayed
 * libp2p connection), not yet TLS. Rejects with FAST_PUNCH_REFUSED (either side cannot take part, or no port is
 * free), FAST_PUNCH_PROTOCOL (a bad answer) or the punch's own PUNCH_* error.
 */
export async function punchFastSocket(deps: FastPunchDeps, conn: Connection, signal: AbortSignal): Promise<net.Socket> {
  const refusal = deps.refusal()
  if (refusal !== null) throw new PodlinkError('FAST_PUNCH_REFUSED', `Cannot punch a fast socket as ${refusal}`)
  const host = connectionIp(conn)
  if (host === undefined) throw new PodlinkError('FAST_PUNCH_REFUSED', 'Cannot punch a fast socket without a peer IP')
  const port = deps.ports.take()
  if (port === null)
    throw new PodlinkError(
      'FAST_PUNCH_REFUSED',
      `Cannot punch a fast socket as all ${deps.ports.size} punch ports are in use or resting`,
    )
  let socket: net.Socket | null = null
  let stream: Stream | undefined
  try {
    stream = await conn.newStream(FAST_PUNCH_PROTOCOL, { signal })
    const lines = jsonLines(stream)
    const t0 = performance.now()
    lines.write({ type: 'punch', port })
    const reply = await lines.read(signal)
    const rtt = performance.now() - t0
    if (reply.type === 'refuse')
      throw new PodlinkError('FAST_PUNCH_REFUSED', `The peer cannot punch a fast socket: ${String(reply.reason)}`)
    if (reply.type !== 'punch' || typeof reply.port !== 'number' || !Number.isInteger(reply.port))
      throw new PodlinkError('FAST_PUNCH_PROTOCOL', 'The peer answered the fast punch with no port')
    lines.write({ type: 'sync' })
    await new Promise((resolve) => setTimeout(resolve, rtt / 2))
    socket = await (deps.connect ?? punchConnect)(
      { localPort: port, remoteHost: host, remotePort: reply.port, deadlineMs: deps.deadlineMs ?? 3_000 },
      signal,
    )
    socket.once('close', () => deps.ports.release(port))
    return socket
  } finally {
    if (socket === null) deps.ports.release(port)
    if (stream !== undefined) void closeQuietly(stream)
  }
}

/**
 * The responder's half (register with `libp2p.handle(FAST_PUNCH_PROTOCOL, ...)`): punches back and gives the
 * socket to `adopt` (the fast listener), which owns it from then on. Never throws; the requester records failures.
 */
export function createFastPunchHandler(
  deps: FastPunchDeps,
  adopt: (socket: net.Socket) => void,
): (stream: Stream, connection: Connection) => Promise<void> {
  // Punches one peer may have running here at once: a member asking in a loop cannot take every punch port.
  const running = new Map<string, number>()
  const maxPerPeer = deps.maxPerPeer ?? 8
  return async (stream, connection) => {
    const signal = AbortSignal.timeout(10_000)
    const lines = jsonLines(stream)
    const peer = connection.remotePeer.toString()
    let port: number | null = null
    let socket: net.Socket | null = null
    const mine = running.get(peer) ?? 0
    if (mine >= maxPerPeer) {
      lines.write({ type: 'refuse', reason: `${maxPerPeer} punches from this peer are already running` })
      await closeQuietly(stream)
      return
    }
    running.set(peer, mine + 1)
    try {
      const request = await lines.read(signal)
      const host = connectionIp(connection)
      if (request.type !== 'punch' || typeof request.port !== 'number' || !Number.isInteger(request.port)) {
        lines.write({ type: 'refuse', reason: 'bad request' })
        return
      }
      const refusal = deps.refusal() ?? (host === undefined ? 'no peer IP' : null)
      if (refusal !== null) {
        lines.write({ type: 'refuse', reason: refusal })
        return
      }
      port = deps.ports.take()
      if (port === null) {
        lines.write({ type: 'refuse', reason: `all ${deps.ports.size} punch ports are in use or resting` })
        return
      }
      lines.write({ type: 'punch', port })
      const sync = await lines.read(signal)
      if (sync.type !== 'sync') return
      const local = port
      socket = await (deps.connect ?? punchConnect)(
        { localPort: local, remoteHost: host!, remotePort: request.port, deadlineMs: deps.deadlineMs ?? 3_000 },
        signal,
      )
      socket.once('close', () => deps.ports.release(local))
      adopt(socket)
    } catch {
      // The requester's punch fails at its deadline and says why.
    } finally {
      const left = (running.get(peer) ?? 1) - 1
      if (left === 0) running.delete(peer)
      else running.set(peer, left)
      if (port !== null && socket === null) deps.ports.release(port)
      await closeQuietly(stream)
    }
  }
}
