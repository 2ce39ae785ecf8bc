import type { L4Protocol } from '@podlink/core'
import { cidrContains, familyOf, parseCidr, parseIp } from './ip-address.ts'
import { renderRule } from './render-restore.ts'
import type { Chain, FamilyRuleset, Hook, IpSet, Rule, Ruleset, Table } from './ruleset.ts'

export interface TracedPacket {
  readonly src?: string
  readonly dst: string
  readonly dport: number
  readonly proto: L4Protocol
  /** The socket mark (SO_MARK) or packet mark on entry; 0 when unset. */
  readonly mark?: number
  /** `prerouting`: from a pod (or any other host); `output`: from a process on this node. */
  readonly hook: Hook
}

export type TraceResult =
  | { readonly captured: false; readonly reason: string }
  | {
      readonly captured: true
      /** Always `redirect` now (TCP and UDP); `tproxy` stays in the type for callers that render older answers. */
      readonly via: 'redirect' | 'tproxy'
      /** The rule that captured it, as `iptables-save` would show it. */
      readonly rule: string
      readonly port: number
      readonly reason: string
    }

type Verdict = { kind: 'continue' } | { kind: 'stop'; rule: Rule; chain: Chain; note: string | null }

/**
 * Evaluates our chains for one packet, the way the kernel walks them: nat PREROUTING for a pod's packet, nat
 * OUTPUT for the host's. Only our chains are modelled: what is not captured is left to kube-proxy and the
 * routing table.
 */
export function tracePacket(ruleset: Ruleset, packet: TracedPacket): TraceResult {
  const family = familyOf(packet.dst)
  const fam = ruleset.families.find((f) => f.family === family)
  if (!fam) return { captured: false, reason: `no rules for the family of ${packet.dst}` }
  const v = walk(fam, 'nat', packet.hook, packet, packet.mark ?? 0)
  if (v.kind === 'continue') {
    return { captured: false, reason: 'no podlink rule matched: left to kube-proxy and the routing table' }
  }
  const t = v.rule.target
  const reason = `${v.rule.comment}${v.note ? ` (${v.note})` : ''}`
  if (t.kind === 'redirect') {
    return { captured: true, via: 'redirect', rule: `-A ${v.chain.name} ${renderRule(v.rule)}`, port: t.port, reason }
  }
  return { captured: false, reason }
}

function walk(fam: FamilyRuleset, table: Table, hook: Hook, p: TracedPacket, mark: number): Verdict {
  const chain = fam.chains.find(
    (c) => c.table === table && c.from === (hook === 'prerouting' ? 'PREROUTING' : 'OUTPUT'),
  )
  if (!chain) return { kind: 'continue' }
  for (const rule of chain.rules) {
    const m = rule.match
    if (m.proto && m.proto !== p.proto) continue
    if (m.mark && (mark & m.mark.mask) !== m.mark.value) continue
    let note: string | null = null
    if (m.set) {
      const set = fam.sets.find((s) => s.name === m.set?.name)
      note = set ? setLookup(set, p) : null
      if (note === null) continue
    }
    return { kind: 'stop', rule, chain, note }
  }
  return { kind: 'continue' }
}

/** The note of the member that matches, or null. */
function setLookup(set: IpSet, p: TracedPacket): string | null {
  if (set.type === 'hash:ip,port') {
    const key = `${p.dst},${p.proto}:${p.dport}`
    const dst = parseIp(p.dst)
    for (const m of set.members) {
      const [ip = '', rest = ''] = m.value.split(',')
      const mip = parseIp(ip)
      if (m.value === key || (mip && dst && mip.value === dst.value && rest === `${p.proto}:${p.dport}`)) {
        return `${m.value}: ${m.note}`
      }
    }
    return null
  }
  const dst = parseIp(p.dst)
  if (!dst) return null
  for (const m of set.members) {
    const c = parseCidr(m.value)
    if (c && cidrContains(c, dst)) return `${m.value}: ${m.note}`
  }
  return null
}
