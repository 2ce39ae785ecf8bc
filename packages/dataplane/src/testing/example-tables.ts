import type { RouteEntry, ServiceEntry } from '@podlink/core'
import type { DataplaneTables } from '../rules/compute-ruleset.ts'

const route = (cidr: string, cls: RouteEntry['class'], node: string): RouteEntry => ({
  cidr,
  family: cidr.includes(':') ? 6 : 4,
  class: cls,
  node,
  reason: `fixture: ${cls}`,
})

const service = (
  name: string,
  clusterIP: string,
  port: number,
  protocol: 'tcp' | 'udp',
  offLan: boolean,
): ServiceEntry => ({
  service: `default/${name}`,
  portName: `${protocol}-${port}`,
  clusterIP,
  port,
  protocol,
  endpoints: [],
  sessionAffinity: 'None',
  affinityTimeoutSeconds: 10800,
  offLan,
})

/**
 * The view from node edge1-a: its own pod CIDR, a same-LAN neighbour, two off-LAN nodes (one dual-stack),
 * a conflicting CIDR, a ClusterIP with an off-LAN endpoint (TCP 80, UDP 53) and one with LAN endpoints only.
 * The lab test builds a topology with these same addresses.
 */
export function exampleTables(): DataplaneTables {
  return {
    routes: [
      route('10.88.0.0/24', 'local', 'edge1-a'),
      route('fd88::/64', 'local', 'edge1-a'),
      route('10.244.2.0/24', 'lan', 'edge1-b'),
      route('10.244.9.0/24', 'mesh', 'edge2-a'),
      route('fd44::/64', 'mesh', 'edge2-a'),
      route('10.244.12.0/24', 'mesh', 'cloud-1'),
      route('10.244.66.0/24', 'conflict', 'edge3-a'),
    ],
    services: [
      service('web', '10.96.0.10', 80, 'tcp', true),
      service('dns', '10.96.0.10', 53, 'udp', true),
      service('web6', 'fd96::10', 80, 'tcp', true),
      service('local-only', '10.96.0.20', 80, 'tcp', false),
      service('local-only', '10.96.0.20', 53, 'udp', false),
    ],
  }
}
