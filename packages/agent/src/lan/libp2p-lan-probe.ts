/**
 * The LanProbe over the real mesh: a forced direct dial to the peer's InternalIP with its peer ID in
 * the address (the encrypter proves the key), then `/podlink/whoami/1`, where the peer answers the IP
 * it sees the connection come from.
 */
import type { Connection, Stream } from '@libp2p/interface'
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
      const addr = multiaddr(`/${family}/${t.internalIP}/tcp/${t.port}/p2p/${t.peerId}`)
      // A connection we dialled to this very address answers as well as a new one (the handshake proved the key,
      // whoami says how the peer sees it), so a probe opens at most one connection per peer address, ever: forced
      // dials each minute and each retry added one for good (a bench lab held 30 per peer after an hour, 269 on a
      // public node). The one it opens stays: once open it is a connection like any other, the newest direct one
      // that the mesh hands a new flow, the relay keeper a reservation (bound to that connection), the peer its own
      // flows. Closing it took those with it: relay reservations failed at agent start ('Cannot write to a stream
      // that is closed': no path in 5 s in a three-site lab), and closing it once idle dropped reservations made
      // on it (a symmetric-NAT site lost its relayed path to a cone site).
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
      let answer = ''
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
