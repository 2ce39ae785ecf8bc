/**
 * Pure: the cluster view, as the mesh needs it. Peers are keyed by node name and peer ID, never by IP;
 * an address is offered to other sites only when it is public (ExternalIP, or an InternalIP in a public
 * range), because private addresses point at another host on another site.
 */
import type { ClusterView, NodeInfo } from '@podlink/core'
import { PEER_ID_ANNOTATION, peerIdShapeError } from '@podlink/routing'
import { createIpRangeSet, type IpRangeSet, isPublicAddress, type MeshPeer, type RelayInfo } from '@podlink/tunnel'

export const MESH_PORT_ANNOTATION = 'podlink.io/mesh-port'
/** The port of the node's fast-channel listener; absent (an older agent, or the fast path off) means none. */
export const FAST_PORT_ANNOTATION = 'podlink.io/fast-port'
export const RELAY_LABEL = 'podlink.io/relay'

export interface DirectoryOptions {
  readonly self: string
  readonly defaultPort: number
  readonly publicRanges: IpRangeSet
}

export function directoryOptions(self: string, defaultPort: number, publicRanges: readonly string[]): DirectoryOptions {
  return { self, defaultPort, publicRanges: createIpRangeSet(publicRanges) }
}

export function peerIdOf(node: NodeInfo | undefined): string | null {
  const id = node?.annotations[PEER_ID_ANNOTATION]
  return id && peerIdShapeError(id) === null ? id : null
}

export function meshPortOf(node: NodeInfo, fallback: number): number {
  const port = Number(node.annotations[MESH_PORT_ANNOTATION])
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : fallback
}

/** The node's fast-channel port, or null when it publishes none. */
export function fastPortOf(node: NodeInfo | undefined): number | null {
  const port = Number(node?.annotations[FAST_PORT_ANNOTATION])
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : null
}

export function internalIP(node: NodeInfo | undefined): string | null {
  return node?.addresses.find((a) => a.type === 'InternalIP')?.address ?? null
}

/** Dialable public multiaddrs of a node: its ExternalIPs, and its InternalIPs when they are public. */
export function publicAddrsOf(node: NodeInfo, options: DirectoryOptions): string[] {
  const port = meshPortOf(node, options.defaultPort)
  const ips = node.addresses
    .filter(
      (a) => a.type === 'ExternalIP' || (a.type === 'InternalIP' && isPublicAddress(a.address, options.publicRanges)),
    )
    .map((a) => a.address)
  return [...new Set(ips)].map((ip) => `/${ip.includes(':') ? 'ip6' : 'ip4'}/${ip}/tcp/${port}`)
}

export function isRelayNode(node: NodeInfo | undefined): boolean {
  return node?.labels[RELAY_LABEL] === 'true'
}

/** Every other node with a usable peer ID, as a mesh peer; `lanPeers` come from the LAN prober. */
export function meshPeers(view: ClusterView, lanPeers: ReadonlySet<string>, options: DirectoryOptions): MeshPeer[] {
  const peers: MeshPeer[] = []
  for (const node of view.nodes.values()) {
    if (node.name === options.self) continue
    const peerId = peerIdOf(node)
    if (!peerId) continue
    const lan = lanPeers.has(node.name)
    const ip = internalIP(node)
    const lanAddrs =
      lan && ip ? [`/${ip.includes(':') ? 'ip6' : 'ip4'}/${ip}/tcp/${meshPortOf(node, options.defaultPort)}`] : []
    peers.push({ node: node.name, peerId, lan, publicAddrs: publicAddrsOf(node, options), lanAddrs })
  }
  return peers.sort((a, b) => a.node.localeCompare(b.node))
}

/** Relay agents: nodes labelled podlink.io/relay=true with a peer ID and a public address, not ourselves. */
export function relayInfos(view: ClusterView, options: DirectoryOptions): RelayInfo[] {
  const relays: RelayInfo[] = []
  for (const node of view.nodes.values()) {
    if (node.name === options.self || !isRelayNode(node)) continue
    const peerId = peerIdOf(node)
    const addrs = publicAddrsOf(node, options)
    if (peerId && addrs.length > 0) relays.push({ node: node.name, peerId, addrs })
  }
  return relays.sort((a, b) => a.node.localeCompare(b.node))
}

/** Node name -> peer ID for every node with a usable one (the proxy's `peerOf`). */
export function peerIndex(view: ClusterView): Map<string, string> {
  const index = new Map<string, string>()
  for (const node of view.nodes.values()) {
    const id = peerIdOf(node)
    if (id) index.set(node.name, id)
  }
  return index
}
