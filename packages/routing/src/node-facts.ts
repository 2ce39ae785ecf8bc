import { type Cidr, formatCidr, hasCode, type NodeInfo, parseCidr } from '@podlink/core'

/** Label that puts nodes on a named LAN; it overrides what the LAN prober found. */
export const LAN_LABEL = 'podlink.io/lan'
/** Annotation on which each agent publishes its libp2p peer ID. */
export const PEER_ID_ANNOTATION = 'podlink.io/peer-id'

export interface NodeCidr {
  readonly cidr: Cidr
  /** Canonical text: the key routes and conflicts use. */
  readonly text: string
}

/** What routing needs from one Node, validated once. */
export interface NodeFacts {
  readonly name: string
  /** Valid podCIDRs, de-duplicated, in the order the Node lists them. */
  readonly cidrs: readonly NodeCidr[]
  readonly invalidCidrs: readonly { readonly text: string; readonly reason: string }[]
  /** The published peer ID when well formed; null when absent or malformed. */
  readonly peerId: string | null
  /** Why the published peer ID was refused; null when absent or valid. */
  readonly peerIdError: string | null
  /** The `podlink.io/lan` label; an empty value counts as no label. */
  readonly lan: string | null
}

const BASE58 = /^[1-9A-HJ-NP-Za-km-z]+$/
const BASE32_CID = /^b[a-z2-7]+$/

/**
 * Whether `text` has the shape of a libp2p peer ID: base58btc multihash (`12D3KooW...` for Ed25519,
 * `Qm...` for RSA, 46-60 characters) or a base32 CIDv1 (`bafz...`). Shape only: the tunnel proves the key.
 */
export function peerIdShapeError(text: string): string | null {
  if (text.length === 0) return 'it is empty'
  if (BASE58.test(text)) {
    return text.length >= 46 && text.length <= 60
      ? null
      : `a base58 peer ID has 46 to 60 characters, not ${text.length}`
  }
  if (BASE32_CID.test(text)) {
    return text.length >= 50 && text.length <= 70
      ? null
      : `a base32 peer ID has 50 to 70 characters, not ${text.length}`
  }
  return 'it is neither base58btc nor a base32 CID'
}

// Informers hand out a new NodeInfo object when a Node changes, so identity is a safe cache key:
// re-validating 5,000 unchanged Nodes on every view change would dominate an incremental update.
const cache = new WeakMap<NodeInfo, NodeFacts>()

/** Validates one Node's podCIDRs, peer ID and LAN label. Pure; memoised by object identity. */
export function nodeFacts(node: NodeInfo): NodeFacts {
  const hit = cache.get(node)
  if (hit !== undefined) return hit
  const cidrs: NodeCidr[] = []
  const invalidCidrs: { text: string; reason: string }[] = []
  for (const text of node.podCIDRs) {
    try {
      const cidr = parseCidr(text)
      const canonical = formatCidr(cidr)
      if (!cidrs.some((c) => c.text === canonical)) cidrs.push({ cidr, text: canonical })
    } catch (err) {
      if (!hasCode(err, 'ERR_INVALID_CIDR')) throw err
      invalidCidrs.push({ text, reason: (err as Error).message })
    }
  }
  const published = node.annotations[PEER_ID_ANNOTATION]
  const shapeError = published === undefined ? null : peerIdShapeError(published)
  const lan = node.labels[LAN_LABEL]
  const facts: NodeFacts = {
    name: node.name,
    cidrs,
    invalidCidrs,
    peerId: published !== undefined && shapeError === null ? published : null,
    peerIdError:
      shapeError === null
        ? null
        : `Cannot read ${PEER_ID_ANNOTATION} ${JSON.stringify(published)} on node ${node.name} as a peer ID: ${shapeError}`,
    lan: lan === undefined || lan === '' ? null : lan,
  }
  cache.set(node, facts)
  return facts
}
