import { type IpFamily, PodlinkError, type RouteEntry, type ServiceEntry } from '@podlink/core'
import { familyOf, parseCidr } from './ip-address.ts'
import {
  CHAIN_CANARY,
  CHAIN_OUTPUT,
  CHAIN_PREROUTING,
  type Chain,
  type FamilyRuleset,
  hex,
  type IpSet,
  type Rule,
  type Ruleset,
  type SetMember,
  setName,
} from './ruleset.ts'

/** The two tables `routing` produces; the dataplane needs nothing else. */
export interface DataplaneTables {
  readonly routes: readonly RouteEntry[]
  readonly services: readonly ServiceEntry[]
}

export interface RulesetOptions {
  /** True where kube-proxy runs: ClusterIPs whose endpoints are all on this LAN are left to it. */
  readonly kubeProxy: boolean
  readonly families?: readonly IpFamily[]
  /** The TCP listener that REDIRECT sends to. */
  readonly tcpPort?: number
  /** The UDP listener that REDIRECT sends to (plain sockets; the original destination comes from conntrack). */
  readonly udpPort?: number
  /** Carried by the agent's own sockets; every chain RETURNs it first. */
  readonly bypassMark?: number
  /**
   * Legacy: the mark, table and priority of the TPROXY policy route earlier versions installed. Nothing sets them
   * now; they only tell `cleanup` what to remove after an upgrade.
   */
  readonly tproxyMark?: number
  readonly routeTable?: number
  readonly rulePriority?: number
}

export const DEFAULT_RULESET_OPTIONS = {
  families: [4, 6] as readonly IpFamily[],
  tcpPort: 15001,
  udpPort: 15002,
  // Bits chosen to miss kube-proxy's masquerade (0x4000) and drop (0x8000) marks, Calico's high bits and each other
  // (the legacy TPROXY bit overlapping the bypass bit re-captured the agent's own datagrams: a storm, capture.md).
  bypassMark: 0x2000,
  tproxyMark: 0x1000,
  routeTable: 1511,
  rulePriority: 1511,
}

/** Marks other components of a node own: kube-proxy's KUBE-MARK-MASQ (0x4000) and KUBE-MARK-DROP (0x8000). */
const FOREIGN_MARKS = 0x4000 | 0x8000

export type ResolvedRulesetOptions = Required<RulesetOptions>

export function resolveRulesetOptions(options: RulesetOptions): ResolvedRulesetOptions {
  const o = { ...DEFAULT_RULESET_OPTIONS, ...stripUndefined(options) } as ResolvedRulesetOptions
  for (const [name, bit] of [
    ['bypassMark', o.bypassMark],
    ['tproxyMark', o.tproxyMark],
  ] as const) {
    if (!Number.isInteger(bit) || bit <= 0 || (bit & (bit - 1)) !== 0 || bit & FOREIGN_MARKS) {
      throw new PodlinkError(
        'DATAPLANE_BAD_MARK',
        `Cannot use ${name} ${hex(bit)} as it must be one bit outside kube-proxy's 0x4000 and 0x8000`,
      )
    }
  }
  if (o.bypassMark === o.tproxyMark) {
    throw new PodlinkError('DATAPLANE_BAD_MARK', `Cannot use bypassMark ${hex(o.bypassMark)} as it equals tproxyMark`)
  }
  return o
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}

/**
 * Decides what is captured, all in nat PREROUTING (pods) and nat OUTPUT (host). Per family, first match wins:
 * 1. the agent's own traffic (bypass mark) RETURNs;
 * 2. local, same-LAN and conflicting pod CIDRs RETURN (flannel carries them; conflicts are never routed);
 * 3. off-LAN pod CIDRs (ipset, so the rule count is flat) are REDIRECTed: TCP to `tcpPort`, UDP to `udpPort`;
 * 4. ClusterIP:port/proto pairs (ipset hash:ip,port) likewise, when an endpoint is off-LAN or without kube-proxy.
 * UDP uses REDIRECT, not TPROXY: with br_netfilter (every kube-proxy node) PREROUTING runs in bridge context for
 * a pod's frames and ip_rcv_core() orphans the skb, dropping the socket TPROXY assigned. A DNAT survives that.
 */
export function computeRuleset(tables: DataplaneTables, options: RulesetOptions): Ruleset {
  const o = resolveRulesetOptions(options)
  return {
    families: o.families.map((family) => computeFamily(tables, o, family)),
    bypassMark: o.bypassMark,
  }
}

function computeFamily(tables: DataplaneTables, o: ResolvedRulesetOptions, family: IpFamily): FamilyRuleset {
  const skip: SetMember[] = []
  const mesh: SetMember[] = []
  for (const r of [...tables.routes].sort((a, b) => (a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : 0))) {
    const parsed = parseCidr(r.cidr)
    if (parsed === null || parsed.family !== family || parsed.prefix === 0) continue // hash:net refuses /0
    const member = { value: r.cidr, note: `${r.class} pod CIDR of ${r.node}` }
    if (r.class === 'mesh') mesh.push(member)
    else skip.push(member)
  }
  const svc = new Map<string, SetMember>()
  for (const s of tables.services) {
    if (familyOf(s.clusterIP) !== family || !(s.offLan || !o.kubeProxy)) continue
    const value = `${s.clusterIP},${s.protocol}:${s.port}`
    const why = s.offLan ? 'an endpoint is off this LAN' : 'no kube-proxy on this node'
    if (!svc.has(value)) svc.set(value, { value, note: `Service ${s.service} port ${s.portName || s.port}: ${why}` })
  }
  const sets: IpSet[] = [
    { name: setName('SKIP', family), family, type: 'hash:net', members: skip },
    { name: setName('MESH', family), family, type: 'hash:net', members: mesh },
    {
      name: setName('SVC', family),
      family,
      type: 'hash:ip,port',
      members: [...svc.values()].sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)),
    },
  ]
  const bypass: Rule = {
    match: { mark: { value: o.bypassMark, mask: o.bypassMark } },
    target: { kind: 'return' },
    comment: "agent's own sockets",
  }
  const skipRule: Rule = {
    match: { set: { name: setName('SKIP', family), dims: 'dst' } },
    target: { kind: 'return' },
    comment: 'local, same-LAN or conflicting pod CIDR',
  }
  const captured = (proto: 'tcp' | 'udp', port: number): Rule[] => [
    {
      match: { proto, set: { name: setName('MESH', family), dims: 'dst' } },
      target: { kind: 'redirect', port },
      comment: 'redirect off-LAN pod CIDR',
    },
    {
      match: { proto, set: { name: setName('SVC', family), dims: 'dst,dst' } },
      target: { kind: 'redirect', port },
      comment: 'redirect ClusterIP with off-LAN endpoints',
    },
  ]
  const rules = [bypass, skipRule, ...captured('tcp', o.tcpPort), ...captured('udp', o.udpPort)]
  const chains: Chain[] = [
    { table: 'nat', name: CHAIN_CANARY, from: null, rules: [] },
    { table: 'nat', name: CHAIN_PREROUTING, from: 'PREROUTING', rules },
    { table: 'nat', name: CHAIN_OUTPUT, from: 'OUTPUT', rules },
  ]
  return { family, sets, chains }
}
