import {
  CidrTable,
  type ClusterView,
  type Conflict,
  type EndpointClass,
  type RouteEntry,
  type RoutingTable,
  type ServiceEntry,
} from '@podlink/core'
import { rememberRouteIndex } from './describe-route.ts'
import { type CidrClaim, findOverlaps } from './find-overlaps.ts'
import { type NodePlacement, placeNode, type SelfContext } from './lan-membership.ts'
import { nodeFacts } from './node-facts.ts'
import { compareConflicts, duplicatePeerId, nodeConflicts, routeFor } from './routing-rules.ts'
import { compareText, serviceEntries } from './service-entries.ts'

export interface RoutingInput {
  readonly view: ClusterView
  /** This node's name. */
  readonly self: string
  /** Nodes the LAN prober proved share this node's LAN; `podlink.io/lan` labels override it. */
  readonly lanPeers: ReadonlySet<string>
  /** Whether kube-proxy implements ClusterIPs on this node (default true); see `serviceEntries`. */
  readonly kubeProxy?: boolean
}

/**
 * The routing decision for one node: where every pod network goes, where every ClusterIP's traffic may go,
 * and everything that stops a network from being routed. Pure: the same input gives an equal table, sorted
 * the same way (routes by network, services by name, ClusterIP and port, conflicts by kind and subject).
 *
 * Guarantees:
 * - a network claimed by two nodes, or overlapping another node's, is class `conflict`, never routed;
 * - nodes are told apart by name and peer ID, never by IP address;
 * - a `mesh` route to a node whose peer ID another Node also publishes is a `conflict`: the mesh could
 *   deliver to the wrong one. `lan` routes do not use peer IDs, so they stay;
 * - a malformed or missing peer ID is reported but the route stays `mesh` (the tunnel finds no peer and
 *   refuses the flow), because an agent that has not started yet looks the same.
 */
export function computeRouting(input: RoutingInput): RoutingTable {
  const { view, self, lanPeers } = input
  const selfNode = view.nodes.get(self)
  const ctx: SelfContext = { self, selfLan: selfNode === undefined ? null : nodeFacts(selfNode).lan, lanPeers }

  const conflicts: Conflict[] = []
  const claims = new Map<string, CidrClaim>()
  const peerOwners = new Map<string, string[]>()
  for (const node of view.nodes.values()) {
    const facts = nodeFacts(node)
    conflicts.push(...nodeConflicts(node))
    if (facts.peerId !== null) {
      const owners = peerOwners.get(facts.peerId)
      if (owners === undefined) peerOwners.set(facts.peerId, [node.name])
      else owners.push(node.name)
    }
    for (const { cidr, text } of facts.cidrs) {
      const claim = claims.get(text)
      if (claim === undefined) claims.set(text, { cidr, text, nodes: [node.name] })
      else claim.nodes.push(node.name)
    }
  }

  const disputed = new Map<string, Conflict>()
  for (const [peerId, owners] of peerOwners) {
    if (owners.length < 2) continue
    const conflict = duplicatePeerId(peerId, owners.sort())
    conflicts.push(conflict)
    for (const name of owners) disputed.set(name, conflict)
  }

  const placements = new Map<string, NodePlacement>()
  const place = (name: string): NodePlacement => {
    let placement = placements.get(name)
    if (placement === undefined) {
      const node = view.nodes.get(name)
      placement = placeNode(ctx, name, node === undefined ? null : nodeFacts(node).lan)
      placements.set(name, placement)
    }
    return placement
  }

  const sortedClaims = [...claims.values()]
  const overlaps = findOverlaps(sortedClaims)
  conflicts.push(...overlaps.conflicts)
  const routes: RouteEntry[] = []
  const index = new CidrTable<RouteEntry>()
  for (const claim of sortedClaims) {
    const owner = claim.nodes[0]!
    const route = routeFor(claim, self, overlaps.byCidr.get(claim.text), place(owner), disputed.get(owner))
    routes.push(route)
    index.set(claim.cidr, route)
  }

  const services: ServiceEntry[] = []
  const serviceCtx = {
    placeNode: (name: string): EndpointClass | null => {
      const placement = place(name)
      return placement.class === 'mesh' && disputed.has(name) ? null : placement.class
    },
    routes: index,
    kubeProxy: input.kubeProxy ?? true,
  }
  for (const key of [...view.services.keys()].sort(compareText)) {
    services.push(...serviceEntries(key, view.services.get(key)!, view.endpoints.get(key), serviceCtx))
  }

  const table: RoutingTable = { routes, services, conflicts: conflicts.sort(compareConflicts) }
  rememberRouteIndex(table, index)
  return table
}
