import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'

const MAX = 16_384
const cache = new Map<string, PeerId>()

/**
 * peerIdFromString, remembered: parsing decodes base58 and a multihash, and the PeerId it builds encodes its string
 * again on each libp2p lookup keyed by it (connection maps). The mesh refreshes every peer on each cluster change,
 * so with 1,000 Nodes that parsing was ~4 s of the agent's CPU while the Nodes arrived (bench profile). Throws as
 * peerIdFromString does; bounded (oldest dropped first).
 */
export function peerIdOf(peerId: string): PeerId {
  let id = cache.get(peerId)
  if (id === undefined) {
    id = peerIdFromString(peerId)
    if (cache.size >= MAX) cache.delete(cache.keys().next().value!)
    cache.set(peerId, id)
  }
  return id
}
