/** A lab topology after validation: every default filled in, every pod address assigned. */

export type NatMode = 'none' | 'static' | 'cone' | 'symmetric' | 'udp-blocked'
export const NAT_MODES: readonly NatMode[] = ['none', 'static', 'cone', 'symmetric', 'udp-blocked']
export type FlannelMode = 'all-nodes' | 'same-lan'

export interface Topology {
  readonly name: string
  readonly internet: string
  readonly publicRanges: readonly string[]
  readonly apiServer: { readonly ip: string; readonly port: number }
  readonly lans: readonly Lan[]
  readonly nodes: readonly LabNode[]
  readonly pods: readonly LabPod[]
  readonly services: readonly LabService[]
  readonly flannel: FlannelMode
}

export interface Lan {
  readonly name: string
  readonly cidr: string
  /** The router's own address on the LAN: the first host address, every node's gateway. */
  readonly gateway: string
  readonly router: { readonly wan: string; readonly nat: NatMode; readonly delayMs: number }
}

export interface LabNode {
  readonly name: string
  readonly lan: string
  readonly ip: string
  readonly publicIP: string | null
  readonly podCIDRs: readonly string[]
  readonly labels: Readonly<Record<string, string>>
  readonly annotations: Readonly<Record<string, string>>
  readonly agent: boolean
}

export interface ServeSpec {
  readonly protocol: 'tcp' | 'udp'
  readonly port: number
}

export interface LabPod {
  readonly name: string
  readonly namespace: string
  readonly node: string
  /** One address per podCIDR family of the node; the first is the primary pod IP. */
  readonly ips: readonly string[]
  readonly labels: Readonly<Record<string, string>>
  readonly serve: readonly ServeSpec[]
}

export interface LabServicePort {
  readonly name: string
  readonly port: number
  readonly targetPort: number | string
  readonly protocol: 'TCP' | 'UDP'
}

export interface LabService {
  readonly name: string
  readonly namespace: string
  readonly clusterIP: string
  readonly selector: Readonly<Record<string, string>>
  readonly ports: readonly LabServicePort[]
  readonly sessionAffinity: 'None' | 'ClientIP'
}

/** Parsing result: the topology, or every problem found, plus warnings either way. */
export type TopologyResult =
  | { readonly ok: true; readonly topology: Topology; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly problems: readonly string[]; readonly warnings: readonly string[] }
