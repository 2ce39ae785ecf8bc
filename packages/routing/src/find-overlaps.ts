import { type Cidr, type Conflict, cidrContainsCidr, compareCidr } from '@podlink/core'

/** One distinct pod network and every node that lists it. */
export interface CidrClaim {
  readonly cidr: Cidr
  readonly text: string
  readonly nodes: string[]
}

export interface Overlaps {
  /** Conflicted networks (canonical text) and the conflict that covers each. */
  readonly byCidr: ReadonlyMap<string, Conflict>
  /** One `overlapping-pod-cidr` conflict per group of networks that overlap across nodes. */
  readonly conflicts: readonly Conflict[]
}

/** How many node names (and networks) a reason spells out before it summarises: reasons stay one line. */
const NAMES_IN_REASON = 5

function owners(nodes: readonly string[]): string {
  if (nodes.length <= NAMES_IN_REASON) return nodes.join(', ')
  return `${nodes.slice(0, NAMES_IN_REASON).join(', ')} and ${nodes.length - NAMES_IN_REASON} more`
}

/** True when the two claims put one address on two different nodes. */
function acrossNodes(a: CidrClaim, b: CidrClaim): boolean {
  return !(a.nodes.length === 1 && b.nodes.length === 1 && a.nodes[0] === b.nodes[0])
}

/**
 * Finds pod networks that more than one node claims, exactly (two nodes both given 10.244.1.0/24, the flannel
 * subnet clash) or by nesting (one node's /16 holding another's /24). Networks either nest or are disjoint,
 * so after sorting by address (wider first) a stack of the enclosing networks, at most 33 (IPv4) or 129
 * (IPv6) deep, finds every overlap in one pass: O(n log n), not O(n^2).
 *
 * A network nested only inside networks of its own node is not a conflict. Mutates `claims` (sorts it and
 * each claim's node list).
 */
export function findOverlaps(claims: CidrClaim[]): Overlaps {
  claims.sort((a, b) => compareCidr(a.cidr, b.cidr))
  const parent = new Int32Array(claims.length).map((_, i) => i)
  const marked = new Uint8Array(claims.length)
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!
      i = parent[i]!
    }
    return i
  }
  const stack: number[] = []
  for (let i = 0; i < claims.length; i++) {
    const claim = claims[i]!
    while (stack.length > 0 && !cidrContainsCidr(claims[stack[stack.length - 1]!]!.cidr, claim.cidr)) stack.pop()
    if (claim.nodes.length > 1) {
      claim.nodes.sort()
      marked[i] = 1
    }
    for (const s of stack) {
      if (!acrossNodes(claims[s]!, claim)) continue
      marked[s] = 1
      marked[i] = 1
      parent[find(i)] = find(s)
    }
    stack.push(i)
  }

  const groups = new Map<number, number[]>()
  for (let i = 0; i < claims.length; i++) {
    if (marked[i] === 0) continue
    const root = find(i)
    const members = groups.get(root)
    if (members === undefined) groups.set(root, [i])
    else members.push(i)
  }
  const byCidr = new Map<string, Conflict>()
  const conflicts: Conflict[] = []
  for (const members of groups.values()) {
    const nodes = [...new Set(members.flatMap((i) => claims[i]!.nodes))].sort()
    const listed = members.slice(0, NAMES_IN_REASON).map((i) => `${claims[i]!.text} (${owners(claims[i]!.nodes)})`)
    if (members.length > NAMES_IN_REASON) listed.push(`${members.length - NAMES_IN_REASON} more networks`)
    const conflict: Conflict = {
      kind: 'overlapping-pod-cidr',
      nodes,
      cidr: claims[members[0]!]!.text,
      reason: `pod CIDRs overlap across nodes: ${listed.join(', ')}; none of them is routed`,
    }
    conflicts.push(conflict)
    for (const i of members) byCidr.set(claims[i]!.text, conflict)
  }
  return { byCidr, conflicts }
}
