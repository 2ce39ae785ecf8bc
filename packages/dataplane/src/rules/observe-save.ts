import type { IpFamily } from '@podlink/core'
import { type JumpFix, jumpRuleSpec, type ObservedTable } from './render-restore.ts'
import { CHAIN_CANARY, CHAIN_PREFIX, type FamilyRuleset, type Table } from './ruleset.ts'

/** `iptables-save` output as data: table -> chain -> rule lines (`-A CHAIN ...`), in order. */
export type SavedTables = ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>

export function parseSave(text: string): SavedTables {
  const tables = new Map<string, Map<string, string[]>>()
  let current: Map<string, string[]> | undefined
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      current = new Map()
      tables.set(line.slice(1).trim(), current)
    } else if (current && line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0] ?? ''
      if (!current.has(name)) current.set(name, [])
    } else if (current && line.startsWith('-A ')) {
      const name = line.split(' ')[1] ?? ''
      let rules = current.get(name)
      if (!rules) {
        rules = []
        current.set(name, rules)
      }
      rules.push(line)
    }
  }
  return tables
}

const JUMP = / -j (PODLINK-[A-Za-z0-9_-]+)(?: |$)/

function jumpTarget(line: string): string | null {
  return JUMP.exec(line)?.[1] ?? null
}

/** Our chains and jumps in nat and mangle, as the kernel has them now. */
export function observeOurs(saved: SavedTables): ObservedTable[] {
  const out: ObservedTable[] = []
  for (const table of ['mangle', 'nat'] as const) {
    const chains = new Map<string, number>()
    const jumps: string[] = []
    for (const [name, rules] of saved.get(table) ?? []) {
      if (name.startsWith(CHAIN_PREFIX)) chains.set(name, rules.length)
      else for (const r of rules) if (jumpTarget(r) !== null) jumps.push(r)
    }
    out.push({ table, chains, jumps })
  }
  return out
}

export interface JumpPlan {
  readonly fixes: readonly JumpFix[]
  /** Why the kernel differs from what we last wrote; empty when it matches. */
  readonly drift: readonly string[]
}

/**
 * Compares one family's `iptables-save` with the desired ruleset. Each jump must exist exactly once and come
 * before any jump to KUBE-SERVICES (kube-proxy re-inserts its jump at position 1 when it starts after us); when
 * not, every copy is deleted and one is inserted at position 1. A missing canary or a chain whose rule count
 * differs (someone ran `iptables -F PODLINK-...`) is drift: the caller then rewrites everything.
 */
export function planJumps(saved: SavedTables, desired: FamilyRuleset): JumpPlan {
  const fixes: JumpFix[] = []
  const drift: string[] = []
  const fam: IpFamily = desired.family
  const tables = (['mangle', 'nat'] as const satisfies readonly Table[]).filter((t) =>
    desired.chains.some((c) => c.table === t),
  )
  for (const table of tables) {
    const chains = saved.get(table) ?? new Map<string, readonly string[]>()
    const lines: string[] = []
    if (!chains.has(CHAIN_CANARY)) drift.push(`IPv${fam} ${table} ${CHAIN_CANARY} is missing`)
    for (const chain of desired.chains.filter((c) => c.table === table)) {
      const have = chains.get(chain.name)
      if (have === undefined) {
        if (chain.name !== CHAIN_CANARY) drift.push(`IPv${fam} ${table} ${chain.name} is missing`)
      } else if (have.length !== chain.rules.length) {
        drift.push(`IPv${fam} ${table} ${chain.name} has ${have.length} rules, want ${chain.rules.length}`)
      }
      if (chain.from === null) continue
      const builtin = chains.get(chain.from) ?? []
      const ours = builtin.map((line, i) => ({ line, i })).filter((r) => jumpTarget(r.line) === chain.name)
      const kube = builtin.findIndex((line) => / -j KUBE-SERVICES(?: |$)/.test(line))
      const first = ours[0]
      if (ours.length === 1 && first && (kube < 0 || first.i < kube)) continue
      const why =
        ours.length === 0
          ? 'missing'
          : ours.length > 1
            ? `present ${ours.length} times`
            : `behind KUBE-SERVICES (rule ${first ? first.i + 1 : 0})`
      drift.push(`IPv${fam} ${table} ${chain.from} jump to ${chain.name} is ${why}`)
      for (const r of ours) lines.push(r.line.replace(/^-A /, '-D '))
      lines.push(`-I ${chain.from} 1 ${jumpRuleSpec(chain)}`)
    }
    if (lines.length) fixes.push({ table, lines })
  }
  return { fixes, drift }
}
