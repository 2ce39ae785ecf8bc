import { Socket } from 'node:net'
import type { Connection } from '@libp2p/interface'
import { BUSY_KEEPALIVE_MS, KEEPALIVE_IDLE_MS } from '@podlink/core'

/**
 * The TCP socket under a libp2p connection, or null (a relayed connection has none). Reaches into libp2p's
 * internals: `Connection.maConn` (libp2p 3.3) and the `socket` field of @libp2p/tcp's TCPSocketMultiaddrConnection
 * and of our SocketMultiaddrConnection (punched). keepalive-sweep.test.ts checks a real dialled connection, so a
 * layout change fails a test instead of silently leaving busy connections on the idle keepalive.
 */
export function tcpSocketOf(connection: Connection): Socket | null {
  const socket = (connection as unknown as { maConn?: { socket?: unknown } }).maConn?.socket
  return socket instanceof Socket ? socket : null
}

export interface KeepaliveSweepOptions {
  /** Default 1000 ms. */
  readonly intervalMs?: number
  /** Keepalive idle while a connection has open streams. Default BUSY_KEEPALIVE_MS. */
  readonly busyMs?: number
  /** Keepalive idle otherwise. Default KEEPALIVE_IDLE_MS. */
  readonly idleMs?: number
}

export interface KeepaliveSweep {
  /** One pass now (the timer calls it every intervalMs). Returns how many sockets changed. */
  sweep(): number
  stop(): void
}

/**
 * Keeps each TCP-backed mesh connection's keepalive idle at `busyMs` while it carries streams (flows, or relayed
 * connections riding a reservation) and at `idleMs` when it carries none: a connection with flows finds a NAT
 * mapping a router forgot within a second or two (BUSY_KEEPALIVE_MS), an idle one costs a probe per 5 s.
 */
export function startKeepaliveSweep(
  getConnections: () => readonly Connection[],
  options: KeepaliveSweepOptions = {},
): KeepaliveSweep {
  const busyMs = options.busyMs ?? BUSY_KEEPALIVE_MS
  const idleMs = options.idleMs ?? KEEPALIVE_IDLE_MS
  const applied = new WeakMap<Socket, number>()
  const sweep = (): number => {
    let changed = 0
    for (const connection of getConnections()) {
      if (connection.status !== 'open') continue
      const socket = tcpSocketOf(connection)
      if (socket === null || socket.destroyed) continue
      const want = connection.streams.length > 0 ? busyMs : idleMs
      if (applied.get(socket) === want) continue
      socket.setKeepAlive(true, want)
      applied.set(socket, want)
      changed++
    }
    return changed
  }
  const timer = setInterval(sweep, options.intervalMs ?? 1_000)
  timer.unref()
  return { sweep, stop: () => clearInterval(timer) }
}
