/**
 * Pure: a captured destination -> where the proxy sends it. A ClusterIP:port/proto is a Service (its
 * endpoints are balanced); a pod IP in a routed (mesh) podCIDR is that pod on its node. Anything else
 * was not ours to capture, and the client gets a reset rather than a connection to the wrong place.
 */
import type { L4Protocol, RoutingTable, ServiceEntry } from '@podlink/core'
import type { FlowTarget } from '@podlink/proxy'
import { describeRoute } from '@podlink/routing'

export function serviceIndex(table: RoutingTable): Map<string, ServiceEntry> {
  const index = new Map<string, ServiceEntry>()
  for (const s of table.services) index.set(`${s.protocol}/${s.clusterIP}/${s.port}`, s)
  return index
}

export function resolveTarget(
  table: RoutingTable,
  services: ReadonlyMap<string, ServiceEntry>,
  protocol: L4Protocol,
  ip: string,
  port: number,
): FlowTarget | null {
  const svc = services.get(`${protocol}/${ip}/${port}`)
  if (svc) return { kind: 'service', entry: svc }
  const route = describeRoute(table, ip)
  if (!route || route.class === 'conflict') return null
  return { kind: 'pod', endpoint: { ip, port, node: route.node, class: route.class } }
}
