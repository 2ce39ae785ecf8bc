import type { IpFamily } from '@podlink/core'
import { CHAIN_PREFIX, type Chain, type FamilyRuleset, hex, type Rule, type Ruleset, type Table } from './ruleset.ts'

/** What one sync writes: an `iptables-restore --noflush` input per family and one `ipset restore` input. */
export interface RenderedRestore {
  readonly iptables: ReadonlyMap<IpFamily, string>
  readonly ipset: string
  /** Rules in our chains, all families and tables (the number that must stay flat as the cluster grows). */
  readonly ruleCount: number
}

/** Edits to the built-in chains, found by comparing `iptables-save` with where our jumps must be. */
export interface JumpFix {
  readonly table: Table
  /** Complete restore lines: `-D PREROUTING ...` for every stray copy, then `-I PREROUTING 1 ...`. */
  readonly lines: readonly string[]
}

const TABLES: readonly Table[] = ['mangle', 'nat']

export function jumpRuleSpec(chain: Chain): string {
  return `-m comment --comment "podlink: capture off-LAN traffic" -j ${chain.name}`
}

/**
 * Renders the whole desired state. Declaring `:PODLINK-X - [0:0]` under `--noflush` creates or empties each of our
 * chains, so the file is idempotent and replaces their contents atomically per table; built-in chains are only
 * touched by `fixes` (jump rules are not idempotent through restore: `-A` twice gives two copies).
 */
export function renderRestore(
  ruleset: Ruleset,
  fixes: ReadonlyMap<IpFamily, readonly JumpFix[]> = new Map(),
): RenderedRestore {
  const iptables = new Map<IpFamily, string>()
  let ruleCount = 0
  for (const fam of ruleset.families) {
    const out: string[] = []
    for (const table of TABLES) {
      const chains = fam.chains.filter((c) => c.table === table)
      if (chains.length === 0) continue
      out.push(`*${table}`)
      for (const c of chains) out.push(`:${c.name} - [0:0]`)
      for (const fix of fixes.get(fam.family) ?? []) if (fix.table === table) out.push(...fix.lines)
      for (const c of chains) {
        for (const r of c.rules) out.push(`-A ${c.name} ${renderRule(r)}`)
        ruleCount += c.rules.length
      }
      out.push('COMMIT')
    }
    iptables.set(fam.family, `${out.join('\n')}\n`)
  }
  return { iptables, ipset: renderIpset(ruleset.families), ruleCount }
}

/**
 * Sets are refilled through a temporary set and `swap`, so a live set is never seen empty; `-exist` makes
 * `create` idempotent. The temporary set is destroyed first in case a crash left it behind.
 */
function renderIpset(families: readonly FamilyRuleset[]): string {
  const out: string[] = []
  for (const fam of families) {
    for (const set of fam.sets) {
      const head = `${set.type} family ${set.family === 4 ? 'inet' : 'inet6'} hashsize 1024 maxelem 1048576`
      const tmp = `${set.name}-T`
      out.push(`create ${set.name} ${head} -exist`)
      out.push(`create ${tmp} ${head} -exist`)
      out.push(`flush ${tmp}`)
      for (const m of set.members) out.push(`add ${tmp} ${m.value} -exist`)
      out.push(`swap ${tmp} ${set.name}`)
      out.push(`destroy ${tmp}`)
    }
  }
  return `${out.join('\n')}\n`
}

export function renderRule(r: Rule): string {
  const parts: string[] = []
  if (r.match.proto) parts.push(`-p ${r.match.proto}`)
  if (r.match.mark) parts.push(`-m mark --mark ${hex(r.match.mark.value)}/${hex(r.match.mark.mask)}`)
  if (r.match.set) parts.push(`-m set --match-set ${r.match.set.name} ${r.match.set.dims}`)
  parts.push(`-m comment --comment "${r.comment.replaceAll('"', "'")}"`)
  const t = r.target
  switch (t.kind) {
    case 'return':
      parts.push('-j RETURN')
      break
    case 'accept':
      parts.push('-j ACCEPT')
      break
    case 'redirect':
      parts.push(`-j REDIRECT --to-ports ${t.port}`)
      break
  }
  return parts.join(' ')
}

/** What `iptables-save` showed of our objects in one family, for cleanup and for the drift check. */
export interface ObservedTable {
  readonly table: Table
  /** Every chain named PODLINK-*, with its rule count. */
  readonly chains: ReadonlyMap<string, number>
  /** Our jump rules in built-in chains, as `iptables-save` prints them (`-A PREROUTING ...`), in order. */
  readonly jumps: readonly string[]
}

/**
 * Removes everything of ours that `observed` shows, in the order the kernel accepts: jumps, then flush, then
 * delete (a referenced chain cannot be deleted). Only objects that exist are named, so the file cannot fail on
 * "not found"; an empty string means nothing to remove.
 */
export function renderCleanup(observed: readonly ObservedTable[]): string {
  const out: string[] = []
  for (const t of observed) {
    if (t.chains.size === 0 && t.jumps.length === 0) continue
    out.push(`*${t.table}`)
    for (const j of t.jumps) out.push(j.replace(/^-A /, '-D '))
    for (const name of t.chains.keys()) out.push(`-F ${name}`)
    for (const name of t.chains.keys()) out.push(`-X ${name}`)
    out.push('COMMIT')
  }
  return out.length ? `${out.join('\n')}\n` : ''
}

export function isOurChain(name: string): boolean {
  return name.startsWith(CHAIN_PREFIX)
}
