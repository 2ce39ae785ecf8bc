import type { ClusterView, EndpointInfo, L4Protocol, NodeInfo, ServiceInfo, ServicePortInfo } from '@podlink/core'
import { LAN_LABEL, PEER_ID_ANNOTATION } from '../node-facts.ts'

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

/** A well-formed, deterministic Ed25519-style peer ID for a name (shape only: no key behind it). */
export function fakePeerId(name: string): string {
  let h = 2166136261
  let id = '12D3KooW'
  for (let i = 0; id.length < 52; i++) {
    h = Math.imul(h ^ (name.charCodeAt(i % Math.max(1, name.length)) + i), 16777619) >>> 0
    id += BASE58[h % 58]
  }
  return id
}

export interface NodeSpec {
  readonly podCIDRs?: readonly string[]
  readonly internalIP?: string
  /** `podlink.io/lan` label value. */
  readonly lan?: string
  /** `podlink.io/peer-id`; default `fakePeerId(name)`; null leaves the annotation out. */
  readonly peerId?: string | null
  readonly labels?: Readonly<Record<string, string>>
  readonly annotations?: Readonly<Record<string, string>>
}

/** A Node; with no spec it has no podCIDR, no LAN label and a fake peer ID. */
export function makeNode(name: string, spec: NodeSpec = {}): NodeInfo {
  const labels: Record<string, string> = { ...spec.labels }
  if (spec.lan !== undefined) labels[LAN_LABEL] = spec.lan
  const annotations: Record<string, string> = { ...spec.annotations }
  const peerId = spec.peerId === undefined ? fakePeerId(name) : spec.peerId
  if (peerId !== null) annotations[PEER_ID_ANNOTATION] = peerId
  return {
    name,
    podCIDRs: spec.podCIDRs ?? [],
    addresses: spec.internalIP === undefined ? [] : [{ type: 'InternalIP', address: spec.internalIP }],
    labels,
    annotations,
  }
}

export interface ServiceSpec {
  /** Empty for a headless Service. Default: none (headless). */
  readonly clusterIPs?: readonly string[]
  /** Default: one TCP port 80 named `http`. */
  readonly ports?: readonly ServicePortInfo[]
  readonly sessionAffinity?: 'None' | 'ClientIP'
  readonly endpoints?: readonly EndpointInfo[]
}

/** A Service keyed `namespace/name`. */
export function makeService(key: string, spec: ServiceSpec = {}): ServiceInfo {
  const [namespace = 'default', name = key] = key.includes('/') ? key.split('/') : ['default', key]
  return {
    namespace,
    name,
    clusterIPs: spec.clusterIPs ?? [],
    ports: spec.ports ?? [{ name: 'http', port: 80, protocol: 'tcp' }],
    sessionAffinity: spec.sessionAffinity ?? 'None',
    affinityTimeoutSeconds: 10800,
  }
}

/** An endpoint serving `http` on 8080/tcp unless told otherwise; ready unless told otherwise. */
export function makeEndpoint(
  address: string,
  spec: {
    nodeName?: string
    ready?: boolean
    zone?: string
    ports?: readonly ServicePortInfo[]
    port?: number
    protocol?: L4Protocol
  } = {},
): EndpointInfo {
  const endpoint: { -readonly [K in keyof EndpointInfo]: EndpointInfo[K] } = {
    address,
    ready: spec.ready ?? true,
    ports: spec.ports ?? [{ name: 'http', port: spec.port ?? 8080, protocol: spec.protocol ?? 'tcp' }],
  }
  if (spec.nodeName !== undefined) endpoint.nodeName = spec.nodeName
  if (spec.zone !== undefined) endpoint.zone = spec.zone
  return endpoint
}

export interface ViewSpec {
  readonly nodes?: readonly NodeInfo[]
  /** Services keyed `namespace/name`, each with its endpoints. */
  readonly services?: Readonly<Record<string, ServiceSpec>>
}

/** A ClusterView from nodes and services. */
export function makeView(spec: ViewSpec = {}): ClusterView {
  const nodes = new Map<string, NodeInfo>()
  for (const node of spec.nodes ?? []) nodes.set(node.name, node)
  const services = new Map<string, ServiceInfo>()
  const endpoints = new Map<string, readonly EndpointInfo[]>()
  for (const [key, service] of Object.entries(spec.services ?? {})) {
    services.set(key, makeService(key, service))
    if (service.endpoints !== undefined) endpoints.set(key, service.endpoints)
  }
  return { nodes, services, endpoints }
}

/** A copy of the view with `node` added or replaced (the original is untouched, as informers do). */
export function withNode(view: ClusterView, node: NodeInfo): ClusterView {
  return { ...view, nodes: new Map(view.nodes).set(node.name, node) }
}

/** A copy of the view without the named node. */
export function withoutNode(view: ClusterView, name: string): ClusterView {
  const nodes = new Map(view.nodes)
  nodes.delete(name)
  return { ...view, nodes }
}

/**
 * A large, valid dual-stack cluster for benchmarks: `nodeCount` nodes (node-00000 ...), each with a /24
 * in 10.0.0.0/8 and a /64, spread over sites of 50 nodes labelled `site-N` (all reusing 192.168.0.10-59); `serviceCount` Services, each
 * with one ClusterIP, two ports and three ready endpoints on nodes of different sites plus one not ready.
 */
export function makeLargeView(nodeCount: number, serviceCount: number): ClusterView {
  const nodes: NodeInfo[] = []
  for (let i = 0; i < nodeCount; i++) {
    nodes.push(
      makeNode(`node-${String(i).padStart(5, '0')}`, {
        podCIDRs: [`10.${(i >> 8) & 0xff}.${i & 0xff}.0/24`, `fd00:10:244:${i.toString(16)}::/64`],
        // Every site reuses the same LAN addresses, as edge sites do.
        internalIP: `192.168.0.${(i % 50) + 10}`,
        lan: `site-${Math.floor(i / 50)}`,
      }),
    )
  }
  const podIP = (n: number, host: number): string => `10.${(n >> 8) & 0xff}.${n & 0xff}.${host}`
  const nodeName = (n: number): string => `node-${String(n).padStart(5, '0')}`
  const ports: ServicePortInfo[] = [
    { name: 'http', port: 80, protocol: 'tcp' },
    { name: 'dns', port: 53, protocol: 'udp' },
  ]
  const epPorts: ServicePortInfo[] = [
    { name: 'http', port: 8080, protocol: 'tcp' },
    { name: 'dns', port: 5353, protocol: 'udp' },
  ]
  const services: Record<string, ServiceSpec> = {}
  for (let s = 0; s < serviceCount; s++) {
    const hosts = [s % nodeCount, (s * 7 + 13) % nodeCount, (s * 31 + 101) % nodeCount, (s * 3 + 1) % nodeCount]
    services[`ns-${s % 20}/svc-${s}`] = {
      clusterIPs: [`10.96.${(s >> 8) & 0xff}.${s & 0xff}`],
      ports,
      endpoints: hosts.map((n, k) =>
        makeEndpoint(podIP(n, 10 + (s % 200)), { nodeName: nodeName(n), ready: k < 3, ports: epPorts }),
      ),
    }
  }
  return makeView({ nodes, services })
}
