import type { Connection } from '@libp2p/interface'
import type { PathKind } from '@podlink/core'

/** The relay's peer ID in a relayed connection's address (`.../p2p/<relay>/p2p-circuit/...`), else null. */
export function relayOf(connection: Connection): string | null {
  const text = connection.remoteAddr.toString()
  const at = text.indexOf('/p2p-circuit')
  if (at < 0) return null
  const m = /\/p2p\/([^/]+)$/.exec(text.slice(0, at))
  return m?.[1] ?? ''
}

export const isRelayed = (connection: Connection): boolean => relayOf(connection) !== null

/** The IP in a connection's remote address: the peer's (its NAT's, when punched), or the relay's when relayed. */
export const connectionIp = (connection: Connection): string | undefined =>
  connection.remoteAddr.getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')?.value

/**
 * The connection new flows should use: an open direct one (dialled, reversed or punched) before a relayed one; among
 * equals the newest, since an older one may be draining. Connections still opening or closing are skipped.
 */
export function bestConnection(connections: readonly Connection[]): Connection | undefined {
  const open = connections.filter((c) => c.status === 'open')
  const rank = (c: Connection): number => (isRelayed(c) ? 1 : 0)
  return open.sort((a, b) => rank(a) - rank(b) || b.timeline.open - a.timeline.open)[0]
}

/** What PeerStatus says for a peer's best connection. */
export function pathKind(connection: Connection | undefined, lan: boolean, punched: ReadonlySet<string>): PathKind {
  // A LAN peer's traffic is flannel's whether or not the mesh holds a connection to it (the LAN probe closes its own).
  if (lan && (connection === undefined || !isRelayed(connection))) return 'lan'
  if (connection === undefined) return 'none'
  if (isRelayed(connection)) return 'relay'
  if (lan) return 'lan'
  return punched.has(connection.id) ? 'punched' : 'direct'
}
