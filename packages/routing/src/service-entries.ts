import type {
  CidrTable,
  EndpointClass,
  EndpointInfo,
  IpAddress,
  RouteEntry,
  ServiceEndpoint,
  ServiceEntry,
  ServiceInfo,
} from '@podlink/core'
import { compareIp, formatIp, tryParseIp, unmapIp } from '@podlink/core'

export interface ServiceContext {
  /** Where an endpoint on this node goes; null when it must not be used (e.g. its node's peer ID is disputed). */
  readonly placeNode: (nodeName: string) => EndpointClass | null
  /** Routes by pod network, to place endpoints whose slice names no node. */
  readonly routes: CidrTable<RouteEntry>
  /** False when no kube-proxy implements ClusterIPs on this node, so podlink must capture every one. */
  readonly kubeProxy: boolean
}

/** Code-unit order: deterministic whatever the process locale. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

interface PlacedEndpoint {
  readonly ip: IpAddress
  readonly text: string
  readonly node: string | null
  readonly class: EndpointClass
  readonly info: EndpointInfo
}

/**
 * Ready endpoints with their place. An endpoint is placed by the node that hosts it; one without a node
 * name by the pod network that holds its IP (IPs alone never name a node: sites overlap). An IP in no pod
 * network (a manual slice pointing outside the cluster) is `lan`: the node's own routing reaches it or
 * nothing does. Endpoints in a conflicted network or on a node whose peer ID is disputed are left out,
 * so their traffic is never misrouted.
 */
function placeEndpoints(endpoints: readonly EndpointInfo[], ctx: ServiceContext): PlacedEndpoint[] {
  const placed: PlacedEndpoint[] = []
  for (const info of endpoints) {
    if (!info.ready) continue
    const parsed = tryParseIp(info.address)
    if (parsed === null) continue
    const ip = unmapIp(parsed)
    let node: string | null = null
    let cls: EndpointClass | null
    if (info.nodeName !== undefined && info.nodeName !== '') {
      node = info.nodeName
      cls = ctx.placeNode(node)
    } else {
      const route = ctx.routes.lookup(ip)
      if (route === undefined) cls = 'lan'
      else {
        node = route.node
        cls = route.class === 'conflict' ? null : route.class
      }
    }
    if (cls !== null) placed.push({ ip, text: formatIp(ip), node, class: cls, info })
  }
  placed.sort((a, b) => (a.ip.family !== b.ip.family ? a.ip.family - b.ip.family : a.ip.value < b.ip.value ? -1 : 1))
  return placed
}

/**
 * The entries of one Service: one per ClusterIP x port, each with the ready endpoints of the ClusterIP's
 * family that serve that port (matched by port name and protocol, as kube-proxy does), sorted by IP;
 * entries come IPv4 ClusterIP first, then by port and protocol.
 * Headless Services (no ClusterIP) have none.
 *
 * `offLan` is true when any endpoint is `mesh`, so the dataplane captures the ClusterIP. Without kube-proxy
 * (`kubeProxy: false`) nothing else translates ClusterIPs on this node, so every entry with endpoints is
 * captured and `offLan` is true for it.
 */
export function serviceEntries(
  key: string,
  service: ServiceInfo,
  endpoints: readonly EndpointInfo[] | undefined,
  ctx: ServiceContext,
): ServiceEntry[] {
  const entries: ServiceEntry[] = []
  const clusterIPs = service.clusterIPs
    .map(tryParseIp)
    .filter((ip): ip is IpAddress => ip !== null)
    .sort(compareIp)
  if (clusterIPs.length === 0 || service.ports.length === 0) return entries
  const ports = [...service.ports].sort(
    (a, b) => a.port - b.port || compareText(a.protocol, b.protocol) || compareText(a.name, b.name),
  )
  const placed = placeEndpoints(endpoints ?? [], ctx)
  for (const clusterIP of clusterIPs) {
    const family = unmapIp(clusterIP).family
    const clusterIPText = formatIp(clusterIP)
    for (const port of ports) {
      const list: ServiceEndpoint[] = []
      const seen = new Set<string>()
      let offLan = false
      for (const ep of placed) {
        if (ep.ip.family !== family) continue
        const target = ep.info.ports.find((p) => p.name === port.name && p.protocol === port.protocol)
        if (target === undefined) continue
        // The same address may sit in two EndpointSlices while they are being rewritten.
        const id = `${ep.text}:${target.port}`
        if (seen.has(id)) continue
        seen.add(id)
        if (ep.class === 'mesh') offLan = true
        const endpoint: { -readonly [K in keyof ServiceEndpoint]: ServiceEndpoint[K] } = {
          ip: ep.text,
          port: target.port,
          node: ep.node,
          class: ep.class,
        }
        if (ep.info.zone !== undefined) endpoint.zone = ep.info.zone
        if (ep.info.hintZones !== undefined) endpoint.hintZones = ep.info.hintZones
        list.push(endpoint)
      }
      entries.push({
        service: key,
        portName: port.name,
        clusterIP: clusterIPText,
        port: port.port,
        protocol: port.protocol,
        endpoints: list,
        sessionAffinity: service.sessionAffinity,
        affinityTimeoutSeconds: service.affinityTimeoutSeconds,
        ...(service.preferClose === true ? { preferClose: true } : {}),
        offLan: offLan || (!ctx.kubeProxy && list.length > 0),
      })
    }
  }
  return entries
}
