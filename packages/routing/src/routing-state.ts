import {
  type Cidr,
  CidrTable,
  type ClusterView,
  type Conflict,
  cidrContainsCidr,
  compareCidr,
  type EndpointClass,
  type EndpointInfo,
  type IpAddress,
  type NodeInfo,
  type RouteEntry,
  type RoutingTable,
  type ServiceEntry,
  type ServiceInfo,
} from '@podlink/core'
import type { RoutingInput } from './compute-routing.ts'
import { type CidrClaim, findOverlaps } from './find-overlaps.ts'
import { type NodePlacement, placeNode, type SelfContext } from './lan-membership.ts'
import { nodeFacts } from './node-facts.ts'
import { compareConflicts, duplicatePeerId, nodeConflicts, routeFor } from './routing-rules.ts'
import { compareText, type ServiceContext, serviceEntries } from './service-entries.ts'

/** One informer event. Objects are replaced, never mutated in place (identity marks a change). */
export type ViewChange =
  | { readonly kind: 'node'; readonly node: NodeInfo }
  | { readonly kind: 'node-deleted'; readonly name: string }
  | { readonly kind: 'service'; readonly key: string; readonly service: ServiceInfo }
  | { readonly kind: 'service-deleted'; readonly key: string }
  | { readonly kind: 'endpoints'; readonly key: string; readonly endpoints: readonly EndpointInfo[] }
  | { readonly kind: 'endpoints-deleted'; readonly key: string }

function lowerBound(sorted: readonly CidrClaim[], cidr: Cidr): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareCidr(sorted[mid]!.cidr, cidr) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

function sameRoute(a: RouteEntry | undefined, b: RouteEntry): boolean {
  return a !== undefined && a.class === b.class && a.node === b.node && a.reason === b.reason
}

function lanOf(node: NodeInfo | undefined): string | null {
  return node === undefined ? null : nodeFacts(node).lan
}

/**
 * `computeRouting` kept up to date one informer event at a time, for the agent's hot loop. Equal to
 * `computeRouting` of the same view after every change (the tests hold it to that, on random event
 * sequences). A node change costs work in proportion to what it touches: its own networks, the networks
 * nested with them, the Services with endpoints on it, not the size of the cluster. A change of this
 * node's own LAN label rebuilds everything.
 */
export class RoutingState {
  readonly #self: string
  readonly #kubeProxy: boolean
  #lanPeers: ReadonlySet<string> = new Set()
  #ctx: SelfContext = { self: '', selfLan: null, lanPeers: new Set() }
  readonly #nodes = new Map<string, NodeInfo>()
  readonly #services = new Map<string, ServiceInfo>()
  readonly #endpoints = new Map<string, readonly EndpointInfo[]>()
  // Routes: claims sorted by network, the route of each at the same index, and both indexed by network.
  readonly #claims = new Map<string, CidrClaim>()
  readonly #claimIndex = new CidrTable<CidrClaim>()
  #sorted: CidrClaim[] = []
  #routes: RouteEntry[] = []
  readonly #index = new CidrTable<RouteEntry>()
  readonly #overlap = new Map<string, Conflict>()
  readonly #nodeConflicts = new Map<string, Conflict[]>()
  readonly #peerOwners = new Map<string, string[]>()
  readonly #duplicates = new Map<string, Conflict>()
  readonly #disputed = new Map<string, Conflict>()
  readonly #placements = new Map<string, NodePlacement>()
  // Services: sorted keys, entries per key, and which keys to redo when a node or the routes change.
  #serviceKeys: string[] = []
  readonly #entries = new Map<string, ServiceEntry[]>()
  readonly #byNode = new Map<string, Set<string>>()
  readonly #nodesOf = new Map<string, readonly string[]>()
  readonly #unnamed = new Set<string>()
  readonly #serviceCtx: ServiceContext
  #table: RoutingTable | null = null

  constructor(input: RoutingInput) {
    this.#self = input.self
    this.#kubeProxy = input.kubeProxy ?? true
    this.#serviceCtx = {
      placeNode: (name: string): EndpointClass | null => {
        const placement = this.#place(name)
        return placement.class === 'mesh' && this.#disputed.has(name) ? null : placement.class
      },
      routes: this.#index,
      kubeProxy: this.#kubeProxy,
    }
    for (const node of input.view.nodes.values()) this.#nodes.set(node.name, node)
    for (const [key, service] of input.view.services) this.#services.set(key, service)
    for (const [key, endpoints] of input.view.endpoints) this.#endpoints.set(key, endpoints)
    this.#lanPeers = input.lanPeers
    this.#rebuild()
  }

  /** The current view (live maps: read, do not keep). */
  get view(): ClusterView {
    return { nodes: this.#nodes, services: this.#services, endpoints: this.#endpoints }
  }

  /** The table for the current view; built on first read after a change. */
  get table(): RoutingTable {
    if (this.#table !== null) return this.#table
    const services: ServiceEntry[] = []
    for (const key of this.#serviceKeys) for (const entry of this.#entries.get(key)!) services.push(entry)
    const conflicts: Conflict[] = []
    for (const list of this.#nodeConflicts.values()) conflicts.push(...list)
    conflicts.push(...this.#duplicates.values(), ...new Set(this.#overlap.values()))
    this.#table = { routes: this.#routes.slice(), services, conflicts: conflicts.sort(compareConflicts) }
    return this.#table
  }

  /** The route covering `ip` in the current table, or null. */
  describeRoute(ip: IpAddress | string): RouteEntry | null {
    return this.#index.lookup(ip) ?? null
  }

  apply(change: ViewChange): void {
    switch (change.kind) {
      case 'node':
        this.#applyNode(change.node.name, change.node)
        break
      case 'node-deleted':
        this.#applyNode(change.name, undefined)
        break
      case 'service':
        this.#services.set(change.key, change.service)
        this.#redoService(change.key)
        break
      case 'service-deleted':
        this.#services.delete(change.key)
        this.#redoService(change.key)
        break
      case 'endpoints':
        this.#endpoints.set(change.key, change.endpoints)
        this.#redoService(change.key)
        break
      case 'endpoints-deleted':
        this.#endpoints.delete(change.key)
        this.#redoService(change.key)
        break
    }
  }

  /** New LAN prober results: only nodes that joined or left the set are re-placed. */
  setLanPeers(lanPeers: ReadonlySet<string>): void {
    const changed = new Set<string>()
    for (const name of lanPeers) if (!this.#lanPeers.has(name)) changed.add(name)
    for (const name of this.#lanPeers) if (!lanPeers.has(name)) changed.add(name)
    this.#lanPeers = lanPeers
    this.#ctx = { ...this.#ctx, lanPeers }
    if (changed.size === 0) return
    this.#table = null
    for (const name of changed) this.#placements.delete(name)
    this.#redo(changed, [])
  }

  #place(name: string): NodePlacement {
    let placement = this.#placements.get(name)
    if (placement === undefined) {
      placement = placeNode(this.#ctx, name, lanOf(this.#nodes.get(name)))
      this.#placements.set(name, placement)
    }
    return placement
  }

  #rebuild(): void {
    this.#ctx = { self: this.#self, selfLan: lanOf(this.#nodes.get(this.#self)), lanPeers: this.#lanPeers }
    this.#table = null
    for (const map of [this.#claims, this.#overlap, this.#nodeConflicts, this.#peerOwners, this.#duplicates]) {
      map.clear()
    }
    for (const map of [this.#disputed, this.#placements, this.#entries, this.#byNode, this.#nodesOf]) map.clear()
    this.#claimIndex.clear()
    this.#index.clear()
    this.#unnamed.clear()
    for (const node of this.#nodes.values()) {
      const facts = nodeFacts(node)
      const conflicts = nodeConflicts(node)
      if (conflicts.length > 0) this.#nodeConflicts.set(node.name, conflicts)
      if (facts.peerId !== null)
        this.#peerOwners.set(facts.peerId, [...(this.#peerOwners.get(facts.peerId) ?? []), node.name])
      for (const { cidr, text } of facts.cidrs) {
        const claim = this.#claims.get(text)
        if (claim !== undefined) claim.nodes.push(node.name)
        else {
          const created = { cidr, text, nodes: [node.name] }
          this.#claims.set(text, created)
          this.#claimIndex.set(cidr, created)
        }
      }
    }
    for (const peerId of this.#peerOwners.keys()) this.#redoPeerId(peerId)
    this.#sorted = [...this.#claims.values()]
    const overlaps = findOverlaps(this.#sorted)
    for (const [text, conflict] of overlaps.byCidr) this.#overlap.set(text, conflict)
    this.#routes = this.#sorted.map((claim) => this.#routeOf(claim))
    for (const route of this.#routes) this.#index.set(this.#claims.get(route.cidr)!.cidr, route)
    this.#serviceKeys = [...this.#services.keys()].sort(compareText)
    for (const key of this.#serviceKeys) this.#redoService(key)
  }

  #routeOf(claim: CidrClaim): RouteEntry {
    const owner = claim.nodes[0]!
    return routeFor(claim, this.#self, this.#overlap.get(claim.text), this.#place(owner), this.#disputed.get(owner))
  }

  /** Recomputes who is disputed over one peer ID; returns the nodes whose dispute changed. */
  #redoPeerId(peerId: string, changed?: Set<string>): void {
    const owners = (this.#peerOwners.get(peerId) ?? []).sort()
    const conflict = owners.length > 1 ? duplicatePeerId(peerId, owners.slice()) : undefined
    if (conflict === undefined) this.#duplicates.delete(peerId)
    else this.#duplicates.set(peerId, conflict)
    for (const name of owners) {
      const before = this.#disputed.get(name)
      if (conflict === undefined) this.#disputed.delete(name)
      else this.#disputed.set(name, conflict)
      if (before !== conflict) changed?.add(name)
    }
  }

  #applyNode(name: string, node: NodeInfo | undefined): void {
    const old = this.#nodes.get(name)
    if (old === node) return
    const before = this.#place(name)
    if (node === undefined) this.#nodes.delete(name)
    else this.#nodes.set(name, node)
    this.#table = null
    if (name === this.#self && lanOf(old) !== lanOf(node)) {
      this.#rebuild()
      return
    }

    const conflicts = node === undefined ? [] : nodeConflicts(node)
    if (conflicts.length > 0) this.#nodeConflicts.set(name, conflicts)
    else this.#nodeConflicts.delete(name)

    const replaced = new Set<string>()
    this.#placements.delete(name)
    const after = this.#place(name)
    if (before.class !== after.class || before.reason !== after.reason) replaced.add(name)

    const oldFacts = old === undefined ? undefined : nodeFacts(old)
    const newFacts = node === undefined ? undefined : nodeFacts(node)
    const oldPeer = oldFacts?.peerId ?? null
    const newPeer = newFacts?.peerId ?? null
    if (oldPeer !== newPeer) {
      if (oldPeer !== null) {
        const owners = this.#peerOwners.get(oldPeer)!.filter((n) => n !== name)
        if (owners.length > 0) this.#peerOwners.set(oldPeer, owners)
        else this.#peerOwners.delete(oldPeer)
        if (this.#disputed.delete(name)) replaced.add(name)
        this.#redoPeerId(oldPeer, replaced)
      }
      if (newPeer !== null) {
        this.#peerOwners.set(newPeer, [...(this.#peerOwners.get(newPeer) ?? []), name])
        this.#redoPeerId(newPeer, replaced)
      }
    }

    const touched: Cidr[] = []
    const newTexts = new Set(newFacts?.cidrs.map((c) => c.text))
    const oldTexts = new Set(oldFacts?.cidrs.map((c) => c.text))
    for (const { cidr, text } of oldFacts?.cidrs ?? []) {
      if (newTexts.has(text)) continue
      touched.push(cidr)
      const claim = this.#claims.get(text)!
      const owners = claim.nodes.filter((n) => n !== name)
      if (owners.length > 0) {
        claim.nodes.length = 0
        claim.nodes.push(...owners)
        continue
      }
      const at = lowerBound(this.#sorted, cidr)
      this.#sorted.splice(at, 1)
      this.#routes.splice(at, 1)
      this.#claims.delete(text)
      this.#claimIndex.delete(cidr)
      this.#index.delete(cidr)
      this.#overlap.delete(text)
    }
    for (const { cidr, text } of newFacts?.cidrs ?? []) {
      if (oldTexts.has(text)) continue
      touched.push(cidr)
      const claim = this.#claims.get(text)
      if (claim !== undefined) {
        claim.nodes.push(name)
        continue
      }
      const created: CidrClaim = { cidr, text, nodes: [name] }
      const at = lowerBound(this.#sorted, cidr)
      this.#sorted.splice(at, 0, created)
      this.#routes.splice(at, 0, undefined as unknown as RouteEntry)
      this.#claims.set(text, created)
      this.#claimIndex.set(cidr, created)
    }
    this.#redo(replaced, touched, touched.length > 0)
  }

  /**
   * Re-derives the routes of the `replaced` nodes and of every network nested with a `touched` one, then
   * the Services those changes reach.
   */
  #redo(replaced: ReadonlySet<string>, touched: readonly Cidr[], routesMoved = false): void {
    const redoAt = new Set<number>()
    // Overlap groups never reach past the widest network that holds a touched one, so re-check only that subtree.
    const roots = new Map<string, Cidr>()
    for (const cidr of touched) {
      const root = this.#claimIndex.covering(cidr)[0]?.cidr ?? cidr
      roots.set(`${root.family}/${root.network}/${root.prefixLength}`, root)
    }
    for (const root of roots.values()) {
      const start = lowerBound(this.#sorted, root)
      let end = start
      while (end < this.#sorted.length && cidrContainsCidr(root, this.#sorted[end]!.cidr)) end++
      const region = this.#sorted.slice(start, end)
      for (const claim of region) this.#overlap.delete(claim.text)
      for (const [text, conflict] of findOverlaps(region).byCidr) this.#overlap.set(text, conflict)
      for (let i = start; i < end; i++) redoAt.add(i)
    }
    for (const name of replaced) {
      const node = this.#nodes.get(name)
      for (const { cidr } of node === undefined ? [] : nodeFacts(node).cidrs) redoAt.add(lowerBound(this.#sorted, cidr))
    }
    for (const i of redoAt) {
      const claim = this.#sorted[i]!
      const route = this.#routeOf(claim)
      if (sameRoute(this.#routes[i], route)) continue
      this.#routes[i] = route
      this.#index.set(claim.cidr, route)
      routesMoved = true
    }
    const services = new Set<string>(routesMoved ? this.#unnamed : [])
    for (const name of replaced) for (const key of this.#byNode.get(name) ?? []) services.add(key)
    for (const key of services) this.#redoService(key)
  }

  #redoService(key: string): void {
    this.#table = null
    for (const name of this.#nodesOf.get(key) ?? []) this.#byNode.get(name)?.delete(key)
    this.#nodesOf.delete(key)
    this.#unnamed.delete(key)
    const service = this.#services.get(key)
    const keys = this.#serviceKeys
    let at = 0
    for (let hi = keys.length; at < hi; ) {
      const mid = (at + hi) >>> 1
      if (compareText(keys[mid]!, key) < 0) at = mid + 1
      else hi = mid
    }
    const present = keys[at] === key
    if (service === undefined) {
      this.#entries.delete(key)
      if (present) keys.splice(at, 1)
      return
    }
    if (!present) keys.splice(at, 0, key)
    const endpoints = this.#endpoints.get(key)
    this.#entries.set(key, serviceEntries(key, service, endpoints, this.#serviceCtx))
    const names: string[] = []
    for (const endpoint of endpoints ?? []) {
      if (endpoint.nodeName === undefined || endpoint.nodeName === '') {
        this.#unnamed.add(key)
        continue
      }
      names.push(endpoint.nodeName)
      const serving = this.#byNode.get(endpoint.nodeName)
      if (serving === undefined) this.#byNode.set(endpoint.nodeName, new Set([key]))
      else serving.add(key)
    }
    this.#nodesOf.set(key, names)
  }
}
