import type { Conflict, NodeInfo, RouteEntry } from '@podlink/core'
import type { CidrClaim } from './find-overlaps.ts'
import type { NodePlacement } from './lan-membership.ts'
import { nodeFacts } from './node-facts.ts'
import { compareText } from './service-entries.ts'

/**
 * The per-entity rules shared by `computeRouting` (the oracle) and `RoutingState` (the incremental form),
 * so the two cannot drift apart.
 */

/** What is wrong with one Node on its own: no podCIDR, a malformed podCIDR, a malformed peer ID. */
export function nodeConflicts(node: NodeInfo): Conflict[] {
  const facts = nodeFacts(node)
  const conflicts: Conflict[] = []
  if (node.podCIDRs.length === 0) {
    conflicts.push({
      kind: 'missing-pod-cidr',
      nodes: [node.name],
      reason: `node ${node.name} has no podCIDR: its pods are not routed`,
    })
  }
  for (const bad of facts.invalidCidrs) {
    conflicts.push({
      kind: 'invalid-pod-cidr',
      nodes: [node.name],
      cidr: bad.text,
      reason: `${bad.reason}; node ${node.name}'s pods in it are not routed`,
    })
  }
  if (facts.peerIdError !== null) {
    conflicts.push({ kind: 'invalid-annotation', nodes: [node.name], reason: facts.peerIdError })
  }
  return conflicts
}

/** The conflict for a peer ID that several Nodes publish; `owners` must be sorted. */
export function duplicatePeerId(peerId: string, owners: readonly string[]): Conflict {
  return {
    kind: 'duplicate-peer-id',
    nodes: owners,
    peerId,
    reason: `peer ID ${peerId} is published by nodes ${owners.join(', ')}: mesh traffic to them is not routed`,
  }
}

/**
 * The route for one claimed network. An overlap makes it a `conflict`; so does a disputed peer ID on a
 * `mesh` route (the mesh could deliver to the wrong node), while `lan` and `local` routes do not use peer IDs.
 */
export function routeFor(
  claim: CidrClaim,
  self: string,
  overlap: Conflict | undefined,
  placement: NodePlacement,
  dispute: Conflict | undefined,
): RouteEntry {
  const node = claim.nodes[0]!
  const base = { cidr: claim.text, family: claim.cidr.family, node }
  if (overlap !== undefined) return { ...base, class: 'conflict', reason: overlap.reason }
  if (placement.class === 'mesh' && dispute !== undefined) return { ...base, class: 'conflict', reason: dispute.reason }
  return { ...base, class: placement.class, reason: node === self ? "this node's pod CIDR" : placement.reason }
}

/** Conflicts by kind, then subject (network, peer ID, nodes). */
export function compareConflicts(a: Conflict, b: Conflict): number {
  return (
    compareText(a.kind, b.kind) ||
    compareText(a.cidr ?? '', b.cidr ?? '') ||
    compareText(a.peerId ?? '', b.peerId ?? '') ||
    compareText(a.nodes.join(','), b.nodes.join(','))
  )
}
