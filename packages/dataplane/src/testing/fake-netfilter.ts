import { type IpFamily, PodlinkError } from '@podlink/core'
import type { PolicyRoute } from '../rules/ruleset.ts'
import type { Netfilter } from '../sync/netfilter.ts'

type Tables = Map<string, Map<string, string[]>>

const BUILTIN: Record<string, readonly string[]> = {
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
}
const TARGETS = new Set([
  'ACCEPT',
  'DROP',
  'RETURN',
  'REJECT',
  'REDIRECT',
  'TPROXY',
  'MARK',
  'DNAT',
  'SNAT',
  'MASQUERADE',
])

/** An in-memory kernel for syncer tests: it interprets the restore subset podlink writes and fails like iptables. */
export interface FakeNetfilter extends Netfilter {
  /** Calls made, e.g. `restore 4`, `save 6`, `ipset restore`. */
  readonly calls: string[]
  /** The next `n` restores (iptables or ipset) fail before changing anything. */
  failRestores(n: number): void
  ipsetMembers(name: string): string[] | undefined
  policyRoutes(): string[]
}

export function createFakeNetfilter(): FakeNetfilter {
  const families = new Map<IpFamily, Tables>([
    [4, new Map()],
    [6, new Map()],
  ])
  const sets = new Map<string, { header: string; members: Set<string> }>()
  const routes = new Set<string>()
  const calls: string[] = []
  let failing = 0
  const fail = (code: string, what: string, why: string): never => {
    throw new PodlinkError(code, `Cannot ${what} as ${why}`)
  }

  const applyTable = (tables: Tables, name: string, lines: string[]) => {
    const existing = tables.get(name)
    const t = new Map<string, string[]>()
    for (const c of BUILTIN[name] ?? []) t.set(c, [])
    for (const [c, r] of existing ?? []) t.set(c, [...r])
    const need = (chain: string) =>
      t.get(chain) ?? fail('DATAPLANE_RESTORE_FAILED', 'apply rules', `chain ${chain} does not exist`)
    const checkJump = (rest: string) => {
      const target = / -j (\S+)/.exec(` ${rest}`)?.[1]
      if (target && !TARGETS.has(target) && !t.has(target))
        fail('DATAPLANE_RESTORE_FAILED', 'apply rules', `no chain/target ${target}`)
    }
    for (const line of lines) {
      const [op = '', chain = '', ...restParts] = line.split(' ')
      if (line.startsWith(':')) {
        // Under --noflush a declared user chain is created or emptied; a built-in one keeps its rules.
        const declared = line.slice(1).split(' ')[0] ?? ''
        if (!(BUILTIN[name] ?? []).includes(declared)) t.set(declared, [])
      } else if (op === '-A') {
        checkJump(restParts.join(' '))
        need(chain).push(`-A ${chain} ${restParts.join(' ')}`)
      } else if (op === '-I') {
        const pos = /^\d+$/.test(restParts[0] ?? '') ? Number(restParts.shift()) : 1
        checkJump(restParts.join(' '))
        const rules = need(chain)
        if (pos < 1 || pos > rules.length + 1) fail('DATAPLANE_RESTORE_FAILED', 'apply rules', `index ${pos} too big`)
        rules.splice(pos - 1, 0, `-A ${chain} ${restParts.join(' ')}`)
      } else if (op === '-D') {
        const rules = need(chain)
        const i = rules.indexOf(`-A ${chain} ${restParts.join(' ')}`)
        if (i < 0) fail('DATAPLANE_RESTORE_FAILED', 'apply rules', `rule to delete not found in ${chain}`)
        rules.splice(i, 1)
      } else if (op === '-F') {
        need(chain).length = 0
      } else if (op === '-X') {
        if (need(chain).length) fail('DATAPLANE_RESTORE_FAILED', 'apply rules', `chain ${chain} is not empty`)
        for (const rules of t.values()) {
          if (rules.some((r) => r.endsWith(` -j ${chain}`)))
            fail('DATAPLANE_RESTORE_FAILED', 'apply rules', `chain ${chain} is in use`)
        }
        t.delete(chain)
      } else if (op === '-N') {
        if (t.has(chain)) fail('DATAPLANE_RESTORE_FAILED', 'apply rules', `chain ${chain} already exists`)
        t.set(chain, [])
      } else if (line.trim() !== '' && !line.startsWith('#')) {
        fail('DATAPLANE_RESTORE_FAILED', 'apply rules', `unknown line ${line}`)
      }
    }
    return t
  }

  const nf: FakeNetfilter = {
    mode: 'nft',
    calls,
    failRestores: (n) => {
      failing = n
    },
    ipsetMembers: (name) => {
      const s = sets.get(name)
      return s ? [...s.members].sort() : undefined
    },
    policyRoutes: () => [...routes].sort(),
    save: async (family) => {
      calls.push(`save ${family}`)
      const out: string[] = []
      for (const [name, t] of families.get(family) ?? []) {
        out.push(`*${name}`)
        for (const c of t.keys()) out.push(`:${c} ${(BUILTIN[name] ?? []).includes(c) ? 'ACCEPT' : '-'} [0:0]`)
        for (const rules of t.values()) out.push(...rules)
        out.push('COMMIT')
      }
      return out.length ? `${out.join('\n')}\n` : ''
    },
    restore: async (family, text) => {
      calls.push(`restore ${family}`)
      if (failing > 0) {
        failing--
        fail('DATAPLANE_RESTORE_FAILED', `apply IPv${family} rules`, 'an injected failure')
      }
      const tables = families.get(family) ?? new Map()
      // Like iptables-nft-restore: one transaction for the whole input.
      const staged = new Map<string, Map<string, string[]>>()
      let table: string | null = null
      let lines: string[] = []
      for (const line of text.split('\n')) {
        if (line.startsWith('*')) {
          table = line.slice(1).trim()
          lines = []
        } else if (line === 'COMMIT') {
          if (table === null) fail('DATAPLANE_RESTORE_FAILED', 'apply rules', 'COMMIT outside a table')
          staged.set(table as string, applyTable(new Map([...tables, ...staged]), table as string, lines))
          table = null
        } else if (table !== null) lines.push(line)
      }
      for (const [k, v] of staged) tables.set(k, v)
    },
    ipsetRestore: async (text) => {
      calls.push('ipset restore')
      if (failing > 0) {
        failing--
        fail('DATAPLANE_IPSET_FAILED', 'apply ipsets', 'an injected failure')
      }
      for (const line of text.split('\n').filter(Boolean)) {
        const [op, name = '', ...rest] = line.split(' ')
        const exist = rest.includes('-exist')
        const set = sets.get(name)
        const need = () => set ?? fail('DATAPLANE_IPSET_FAILED', 'apply ipsets', `set ${name} does not exist`)
        if (op === 'create') {
          if (set && !exist) fail('DATAPLANE_IPSET_FAILED', 'apply ipsets', `set ${name} exists`)
          if (!set) sets.set(name, { header: rest.filter((r) => r !== '-exist').join(' '), members: new Set() })
        } else if (op === 'add') need().members.add(rest[0] ?? '')
        else if (op === 'flush') need().members.clear()
        else if (op === 'destroy') {
          need()
          sets.delete(name)
        } else if (op === 'swap') {
          const other =
            sets.get(rest[0] ?? '') ?? fail('DATAPLANE_IPSET_FAILED', 'apply ipsets', `set ${rest[0]} does not exist`)
          const mine = need()
          sets.set(name, other)
          sets.set(rest[0] ?? '', mine)
        } else fail('DATAPLANE_IPSET_FAILED', 'apply ipsets', `unknown command ${line}`)
      }
    },
    ipsetNames: async () => [...sets.keys()],
    ipsetDestroy: async (name) => {
      calls.push(`ipset destroy ${name}`)
      sets.delete(name)
    },
    hasPolicyRoute: async (family, r) => routes.has(key(family, r)),
    ensurePolicyRoute: async (family, r) => {
      calls.push(`route add ${family}`)
      routes.add(key(family, r))
    },
    removePolicyRoute: async (family, r) => {
      calls.push(`route del ${family}`)
      for (const k of [...routes]) if (k.startsWith(`${family} pref ${r.priority} `)) routes.delete(k)
    },
  }
  return nf
}

function key(family: IpFamily, r: PolicyRoute): string {
  return `${family} pref ${r.priority} fwmark 0x${r.mark.toString(16)}/0x${r.mask.toString(16)} table ${r.table}`
}
