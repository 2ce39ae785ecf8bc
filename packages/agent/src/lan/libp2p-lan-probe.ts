/**
 * The LanProbe over the real mesh: a forced direct dial to the peer's InternalIP with its peer ID in
 * the address (the encrypter proves the key), then `/podlink/whoami/1`, where the peer answers the IP
 * it sees the connection come from.
 */
import { type Connection, KEEP_ALIVE, type Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { TunnelNode } from '@podlink/tunnel'
import type { LanProbe, LanTarget } from './lan-prober.ts'

export const WHOAMI_PROTOCOL = '/podlink/whoami/1'
const MAX_ANSWER = 64

/** Serves whoami: the remote IP of the connection, as text. */
export async function handleWhoami(node: TunnelNode): Promise<void> {
  await node.libp2p.handle(WHOAMI_PROTOCOL, (stream: Stream, connection: Connection) => {
    const ip = connection.remoteAddr.getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')?.value ?? ''
    stream.send(new TextEncoder().encode(`${ip}\n`))
    void stream.close().catch(() => stream.abort(new Error('whoami close failed')))
  })
}

export function libp2pLanProbe(node: TunnelNode): LanProbe {
  return {
    async probe(t: LanTarget, signal: AbortSignal) {
      const family = t.internalIP.includes(':') ? 'ip6' : 'ip4'
      // No `/p2p` in the address: libp2p's dial queue joins every dial to a peer that is already being dialled,
      // under the first dial's signal. A probe of an unreachable InternalIP (2 s timeout, retried every 1-4 s at
      // start) then swallowed the mesh's own dials to that peer: a dial-back to a static-NAT node's public address
      // failed with the probe's timeout in 3 of 3 bench runs. Dialled by address alone, the probe checks the peer
      // ID the handshake proved itself (the member gater still refuses non-members).
      const addr = multiaddr(`/${family}/${t.internalIP}/tcp/${t.port}`)
      // A connection we dialled to this very address answers as well as a new one (the handshake proved the key,
      // whoami says how the peer sees it), and adds none. Otherwise a forced dial opens one of our own: left open,
      // every probe (each minute, and each retry) added one to the peer for good (a bench lab held 30 per peer
      // after an hour, 269 on one public node).
      const existing = node.libp2p
        .getConnections()
        .find(
          (c) =>
            c.remotePeer.toString() === t.peerId &&
            c.status === 'open' &&
            c.direction === 'outbound' &&
            c.limits == null &&
            isAddress(c, t),
        )
      const conn = existing ?? (await node.libp2p.dial(addr, { signal, force: true }))
      if (conn.remotePeer.toString() !== t.peerId) {
        if (!existing) conn.abort(new Error('not the probed peer'))
        // Named as the encrypter names it when a dial with `/p2p` meets another key: proof of another node there.
        const err = new Error(`unexpected peer: ${t.internalIP}:${t.port} is ${conn.remotePeer.toString()}`)
        err.name = 'UnexpectedPeerError'
        throw err
      }
      let answer = ''
      try {
        const stream = await conn.newStream(WHOAMI_PROTOCOL, { signal })
        // The answer ends at its newline: waiting for the stream's end would wait on the peer's graceful
        // close, measured at over 6 s here.
        try {
          for await (const chunk of stream) {
            answer += new TextDecoder().decode(chunk.subarray())
            if (answer.includes('\n')) break
            if (answer.length > MAX_ANSWER) throw new Error('whoami answer too long')
          }
        } finally {
          stream.abort(new Error('whoami done'))
        }
      } finally {
        if (!existing) closeWhenUnused(node, conn)
      }
      if (!answer.includes('\n')) throw new Error('whoami answer cut short')
      return { observedIP: answer.trim() }
    },
  }
}

/** Whether the connection goes to the target's InternalIP and mesh port (not just to its peer). */
function isAddress(conn: Connection, t: LanTarget): boolean {
  const parts = conn.remoteAddr.getComponents()
  const ip = parts.find((c) => c.name === 'ip4' || c.name === 'ip6')?.value
  const port = parts.find((c) => c.name === 'tcp')?.value
  return ip === t.internalIP && port === String(t.port) && !parts.some((c) => c.name === 'p2p-circuit')
}

/**
 * How long the probe's own connection is left for others before it is closed: once open, it is a connection to the
 * peer like any other, and the newest direct one is what the mesh hands a new flow, the relay keeper a reservation,
 * the peer its own flows. Closed at once, it took such streams with it: relay reservations failed at agent start
 * ('Cannot write to a stream that is closed', a three-site lab with no path in 5 s) and a flow to a relay, opened
 * as its minute's probe ran, ended before its answer.
 */
const UNUSED_GRACE_MS = 1000

/**
 * Closes the probe's connection unless something else opened a stream on it meanwhile (then it is theirs), or it is
 * the only direct connection to a peer tagged keep-alive (a relay we hold a reservation on: the reservation holds no
 * open stream, so a closed connection dropped it; the fault lab lost c-1's relayed path that way). A kept connection
 * adds none: the next probe to the same address reuses it.
 */
function closeWhenUnused(node: TunnelNode, conn: Connection): void {
  const timer = setTimeout(() => {
    if (conn.status !== 'open' || conn.streams.some((s) => s.status === 'open')) return
    void keptAlive(node, conn).then((pinned) => {
      if (pinned || conn.status !== 'open') return
      conn.close({ signal: AbortSignal.timeout(2_000) }).catch((err: unknown) => {
        conn.abort(err instanceof Error ? err : new Error(String(err)))
      })
    })
  }, UNUSED_GRACE_MS)
  timer.unref()
}

/** Whether `conn` is the last open direct connection to a peer that something asked to keep connected. */
async function keptAlive(node: TunnelNode, conn: Connection): Promise<boolean> {
  const others = node.libp2p
    .getConnections(conn.remotePeer)
    .filter((c) => c !== conn && c.status === 'open' && c.limits == null)
  if (others.length > 0) return false
  try {
    const peer = await node.libp2p.peerStore.get(conn.remotePeer)
    return [...peer.tags.keys()].some((tag) => tag.startsWith(KEEP_ALIVE))
  } catch {
    return false
  }
}
