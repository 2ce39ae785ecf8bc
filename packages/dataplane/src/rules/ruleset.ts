import type { IpFamily, L4Protocol } from '@podlink/core'

/**
 * The kernel state podlink wants, as plain data: one `FamilyRuleset` per IP family (nat chains and ipsets).
 * `computeRuleset` builds it, `renderRestore` prints it, `tracePacket` evaluates it. Nothing here does I/O.
 */

/** `mangle` only appears in what earlier versions (UDP by TPROXY) left behind, which cleanup still removes. */
export type Table = 'nat' | 'mangle'
export type Hook = 'prerouting' | 'output'

export const CHAIN_PREROUTING = 'PODLINK-PREROUTING'
export const CHAIN_OUTPUT = 'PODLINK-OUTPUT'
/** Empty chain in nat and mangle: when it is gone, someone flushed or deleted our tables, so resync all. */
export const CHAIN_CANARY = 'PODLINK-CANARY'
export const OUR_CHAINS: readonly string[] = [CHAIN_CANARY, CHAIN_PREROUTING, CHAIN_OUTPUT]
export const CHAIN_PREFIX = 'PODLINK-'
export const SET_PREFIX = 'PODLINK-'

export interface SetMember {
  /** The element as `ipset add` takes it: `10.244.9.0/24` or `10.96.0.10,tcp:53`. */
  readonly value: string
  /** Why it is in the set (route class and node, or Service), for `trace`. */
  readonly note: string
}

export interface IpSet {
  readonly name: string
  readonly family: IpFamily
  readonly type: 'hash:net' | 'hash:ip,port'
  readonly members: readonly SetMember[]
}

export interface RuleMatch {
  readonly proto?: L4Protocol
  /** Matches when `packet.mark & mask === value`. */
  readonly mark?: { readonly value: number; readonly mask: number }
  /** `dst` for hash:net, `dst,dst` for hash:ip,port. */
  readonly set?: { readonly name: string; readonly dims: 'dst' | 'dst,dst' }
}

export type RuleTarget =
  | { readonly kind: 'return' }
  | { readonly kind: 'accept' }
  | { readonly kind: 'redirect'; readonly port: number }

export interface Rule {
  readonly match: RuleMatch
  readonly target: RuleTarget
  readonly comment: string
}

export interface Chain {
  readonly table: Table
  readonly name: string
  /** The built-in chain that jumps here (ahead of KUBE-SERVICES), or null for the canary. */
  readonly from: 'PREROUTING' | 'OUTPUT' | null
  readonly rules: readonly Rule[]
}

export interface FamilyRuleset {
  readonly family: IpFamily
  readonly sets: readonly IpSet[]
  readonly chains: readonly Chain[]
}

/**
 * `ip rule add fwmark <mark>/<mask> lookup <table> pref <priority>` + `ip route add local default dev lo table <table>`:
 * what earlier versions installed for TPROXY. Only cleanup uses it now (removing it after an upgrade).
 */
export interface PolicyRoute {
  readonly mark: number
  readonly mask: number
  readonly table: number
  readonly priority: number
}

export interface Ruleset {
  readonly families: readonly FamilyRuleset[]
  readonly bypassMark: number
}

export function setName(kind: 'SKIP' | 'MESH' | 'SVC', family: IpFamily): string {
  return `${SET_PREFIX}${kind}-${family}`
}

export function hex(n: number): string {
  return `0x${n.toString(16)}`
}
