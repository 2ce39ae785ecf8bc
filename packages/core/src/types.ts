/**
 * The domain model every package speaks. Plain data: no classes, no I/O.
 * Names here are part of the operator-facing contract (`AgentStatus` is served as JSON);
 * later issues extend these types, they do not rename fields.
 */

export type IpFamily = 4 | 6
export type L4Protocol = 'tcp' | 'udp'

/** A Node as the agent needs it, distilled from core/v1 Node. */
export interface NodeInfo {
  readonly name: string
  /** `spec.podCIDRs` (or `[spec.podCIDR]`), as written on the Node; validated by routing. */
  readonly podCIDRs: readonly string[]
  readonly addresses: readonly NodeAddress[]
  readonly labels: Readonly<Record<string, string>>
  readonly annotations: Readonly<Record<string, string>>
}

export interface NodeAddress {
  /** `InternalIP`, `ExternalIP`, `Hostname`, ... as in `status.addresses[].type`. */
  readonly type: string
  readonly address: string
}

export interface ServicePortInfo {
  readonly name: string
  readonly port: number
  readonly protocol: L4Protocol
}

/** A Service as the agent needs it, distilled from core/v1 Service. */
export interface ServiceInfo {
  readonly namespace: string
  readonly name: string
  /** Empty for headless Services (`clusterIP: None`). */
  readonly clusterIPs: readonly string[]
  readonly ports: readonly ServicePortInfo[]
  readonly sessionAffinity: 'None' | 'ClientIP'
  /** `sessionAffinityConfig.clientIP.timeoutSeconds`; Kubernetes' default is 10800. */
  readonly affinityTimeoutSeconds: number
  /**
   * The Service asked for nearby endpoints (`spec.trafficDistribution: PreferClose`, PreferSameZone or PreferSameNode,
   * or the `service.kubernetes.io/topology-mode: Auto` annotation). Absent: spread over every ready endpoint.
   */
  readonly preferClose?: boolean
}

/** One endpoint address of a Service, from discovery.k8s.io/v1 EndpointSlices. */
export interface EndpointInfo {
  readonly address: string
  readonly nodeName?: string
  readonly ready: boolean
  readonly zone?: string
  /** `hints.forZones[].name`, when topology-aware routing set them. */
  readonly hintZones?: readonly string[]
  /** Port name -> target port and protocol, from the slice's `ports`. */
  readonly ports: readonly ServicePortInfo[]
}

/** What the cluster looks like, as the informers last saw it. */
export interface ClusterView {
  readonly nodes: ReadonlyMap<string, NodeInfo>
  /** Keyed by `namespace/name`. */
  readonly services: ReadonlyMap<string, ServiceInfo>
  /** Keyed by `namespace/name` of the owning Service. */
  readonly endpoints: ReadonlyMap<string, readonly EndpointInfo[]>
}

export type RouteClass = 'local' | 'lan' | 'mesh' | 'conflict'

/** Where a pod CIDR goes from this node, and why. */
export interface RouteEntry {
  readonly cidr: string
  readonly family: IpFamily
  readonly class: RouteClass
  /** The node that owns the CIDR (for a conflict, the first of the nodes that claim it). */
  readonly node: string
  /** Why this class: e.g. "same LAN: handshake on 192.168.1.11 proved peer 12D3..." or the conflict. */
  readonly reason: string
}

export type EndpointClass = 'local' | 'lan' | 'mesh'

export interface ServiceEndpoint {
  readonly ip: string
  readonly port: number
  readonly node: string | null
  readonly class: EndpointClass
  readonly zone?: string
  readonly hintZones?: readonly string[]
}

/** One ClusterIP:port/protocol and where its traffic may go. */
export interface ServiceEntry {
  /** `namespace/name`. */
  readonly service: string
  readonly portName: string
  readonly clusterIP: string
  readonly port: number
  readonly protocol: L4Protocol
  readonly endpoints: readonly ServiceEndpoint[]
  readonly sessionAffinity: 'None' | 'ClientIP'
  readonly affinityTimeoutSeconds: number
  /** From ServiceInfo.preferClose: new flows go to this node's endpoints, then this LAN's, then other sites'. */
  readonly preferClose?: boolean
  /** True when any ready endpoint is off this node's LAN: the dataplane captures it. */
  readonly offLan: boolean
}

export type ConflictKind =
  | 'overlapping-pod-cidr'
  | 'missing-pod-cidr'
  | 'invalid-pod-cidr'
  | 'duplicate-peer-id'
  | 'invalid-annotation'

export interface Conflict {
  readonly kind: ConflictKind
  readonly nodes: readonly string[]
  readonly cidr?: string
  readonly peerId?: string
  readonly reason: string
}

export interface RoutingTable {
  readonly routes: readonly RouteEntry[]
  readonly services: readonly ServiceEntry[]
  readonly conflicts: readonly Conflict[]
}

export type PathKind = 'lan' | 'direct' | 'punched' | 'relay' | 'none'

/** One peer as the operator sees it (`podlink peers`). */
export interface PeerStatus {
  readonly node: string
  readonly peerId: string
  /** True when this peer shares the node's LAN (flannel carries its pods' traffic). */
  readonly lan: boolean
  readonly path: PathKind
  /** The relay's node name when `path` is `relay`. */
  readonly relay: string | null
  readonly rttMs: number | null
  readonly addrs: readonly string[]
  readonly txBytes: number
  readonly rxBytes: number
  readonly flows: number
  /** ISO time the current path was taken. */
  readonly since: string | null
  /** Why the path is not better (for anything but `direct` and `lan`), or why the last upgrade failed. */
  readonly reason: string | null
  /** The fast channel to this peer (TCP flows on their own TLS connections), once a flow wanted it; else absent. */
  readonly fast?: FastChannelStatus | null
}

export interface FastChannelStatus {
  /** host:port of the peer's fast listener. */
  readonly address: string
  /** Proven connections waiting for a flow. */
  readonly ready: number
  /** Connections being dialled now; optional for agents older than this field. */
  readonly dialing?: number
  /** TCP flows that took a connection / found none and went over libp2p. */
  readonly flows: number
  readonly missed: number
  /**
   * Of `flows`, those that found none ready and waited for one being dialled (a near direct peer); optional for
   * agents older than this field.
   */
  readonly waited?: number
  /**
   * How its flows are carried: sealed records, by the native relay outside Node, or TLS in Node (either end lacks
   * the relay); null before a connection was made. Optional for agents older than this field.
   */
  readonly records?: 'sealed' | 'tls' | null
  /** Dials failed in a row (0 once one succeeds), and the last one's error. */
  readonly failures: number
  readonly lastError: string | null
}

export interface ViewStatus {
  readonly synced: boolean
  /** True when the view comes from the on-disk cache because the API is unreachable. */
  readonly stale: boolean
  readonly resourceVersions: Readonly<Record<string, string>>
  readonly lastSyncAt: string | null
  /**
   * API server's clock minus this node's, from the `Date` header of the last API response (ms; positive
   * when the node is behind). `podlink doctor` warns on skew. Absent when the agent does not measure it.
   */
  readonly apiClockSkewMs?: number | null
}

/** What carries a flow between two agents: a libp2p stream on the peer's connection, or a fast socket of its own. */
export type FlowChannel = 'libp2p' | 'fast'

/** One captured flow being carried over the mesh (TCP connection or UDP association). */
export interface FlowStatus {
  readonly id: string
  readonly protocol: L4Protocol
  /** Client address as captured (ip:port). */
  readonly source: string
  /** Original destination (pod IP or ClusterIP, with port). */
  readonly destination: string
  /** The endpoint chosen for a ClusterIP (ip:port), or the destination itself. */
  readonly endpoint: string
  readonly service: string | null
  readonly peer: string
  readonly path: PathKind
  /**
   * What carries it between the agents (a TCP flow on libp2p runs at about a third of the fast channel's speed);
   * null while it opens and for a flow that does not cross the mesh (a same-LAN or local endpoint). Optional for
   * agents older than this field.
   */
  readonly channel?: FlowChannel | null
  readonly txBytes: number
  readonly rxBytes: number
  readonly startedAt: string
}

export interface RelayStatus {
  readonly node: string
  readonly peerId: string
  readonly reserved: boolean
  readonly rttMs: number | null
  readonly since: string | null
  readonly reason: string | null
}

/** The capture rules' sync state, in kube-proxy's terms. */
export interface DataplaneStatus {
  readonly enabled: boolean
  /** `nft` or `legacy` iptables, as detected; null before the first sync. */
  readonly iptablesMode: 'nft' | 'legacy' | null
  readonly lastSyncAt: string | null
  readonly lastSyncMs: number | null
  readonly syncFailures: number
  readonly ruleCount: number
  readonly capturedCidrs: number
  readonly capturedServices: number
  /** /healthz's meaning: changes queued were applied within the deadline. */
  readonly healthy: boolean
  readonly lastError: string | null
  /** The packet-mark bits the capture rules use; `podlink doctor` checks them against kube-proxy's. */
  readonly marks?: { readonly bypass: number; readonly tproxy: number }
}

export interface HealthStatus {
  /** /readyz: initial sync done, rules in place, a relay reservation held when the node is NATed. */
  readonly ready: boolean
  /** /healthz: queued changes applied in time. */
  readonly healthy: boolean
  /** Why not ready or not healthy, one line each. */
  readonly reasons: readonly string[]
}

/** Everything the agent knows, in one object: the status API serves it, the CLI renders it. */
export interface AgentStatus {
  readonly node: string
  readonly peerId: string | null
  readonly version: string
  readonly startedAt: string
  readonly view: ViewStatus
  readonly routes: readonly RouteEntry[]
  readonly services: readonly ServiceEntry[]
  readonly conflicts: readonly Conflict[]
  readonly peers: readonly PeerStatus[]
  readonly relays: readonly RelayStatus[]
  readonly flows: readonly FlowStatus[]
  readonly dataplane: DataplaneStatus
  readonly health: HealthStatus
  /** The mesh PSK file the agent loaded; `podlink doctor` checks it exists and is 0600/0400. */
  readonly pskFile?: string
}

/**
 * The capture decision for one packet from a pod (PREROUTING), as the dataplane's `tracePacket` answers
 * it; structurally the same type, so the agent passes that result through unchanged.
 */
export type CaptureDecision =
  | { readonly captured: false; readonly reason: string }
  | {
      readonly captured: true
      readonly via: 'redirect' | 'tproxy'
      /** The rule that captured it, as `iptables-save` would show it. */
      readonly rule: string
      readonly port: number
      readonly reason: string
    }

/** Where one candidate destination (the address itself, or one endpoint of a ClusterIP) goes from this node. */
export interface TraceHop {
  /** `ip:port` (or the bare ip when no port was asked). */
  readonly target: string
  /** The node that owns the address, when a route or endpoint names it. */
  readonly node: string | null
  /** `local`/`lan`/`mesh` from the route or endpoint; `conflict` when the CIDR is disputed; `none` when no route covers it. */
  readonly class: RouteClass | 'none'
  readonly path: PathKind | null
  readonly relay: string | null
  readonly reason: string
}

/**
 * `GET /trace?dst=IP[:PORT][/udp]` on the agent's socket: why a destination goes where it goes. Built by
 * the agent's `explainDestination(status, dst, capture)`; `podlink trace` only renders it.
 */
export interface DestinationTrace {
  /** The destination as asked, normalised: `10.244.1.5:80/tcp`, `[fd00::5]:53/udp`, `10.244.1.5/tcp`. */
  readonly destination: string
  readonly ip: string
  readonly port: number | null
  readonly protocol: L4Protocol
  /** A Service's ClusterIP, an address inside a known pod CIDR, or neither. */
  readonly kind: 'service' | 'pod' | 'unknown'
  /** The Service entries this ClusterIP (and port, when given) matches. */
  readonly services: readonly ServiceEntry[]
  /** The route covering the IP (pod destinations only). */
  readonly route: RouteEntry | null
  /** Null when the dataplane is disabled or no port was given (a packet needs one). */
  readonly capture: CaptureDecision | null
  /** The address itself for a pod IP; every endpoint for a ClusterIP (the proxy picks one per connection). */
  readonly hops: readonly TraceHop[]
  /** One line: what happens to a new connection to this destination. */
  readonly verdict: string
  /** True when traffic to it cannot be carried (conflict, no route, no ready endpoint, no path to the peer). */
  readonly broken: boolean
}

/**
 * `GET /ping?node=X&count=N` on the agent's socket answers `application/x-ndjson`: one PingEvent per
 * line, a `reply` or `lost` per probe as it completes, then exactly one `summary`. An unknown node is
 * answered 404 with `{"error": "..."}` before any line.
 */
export type PingEvent =
  | {
      readonly type: 'reply'
      readonly seq: number
      readonly node: string
      readonly peerId: string
      readonly path: PathKind
      readonly relay: string | null
      /** The remote address the probe's connection used. */
      readonly addr: string | null
      readonly rttMs: number
    }
  | { readonly type: 'lost'; readonly seq: number; readonly node: string; readonly reason: string }
  | {
      readonly type: 'summary'
      readonly node: string
      readonly sent: number
      readonly received: number
      readonly minMs: number | null
      readonly avgMs: number | null
      readonly maxMs: number | null
    }
