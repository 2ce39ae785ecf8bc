import { readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { exampleTables } from '../testing/example-tables.ts'
import { computeRuleset } from './compute-ruleset.ts'
import { parseSave, planJumps } from './observe-save.ts'
import { renderCleanup, renderRestore } from './render-restore.ts'

const dir = new URL('../testdata/', import.meta.url)

/** Compares with a checked-in file; `UPDATE_GOLDEN=1` rewrites it (review the diff). */
function golden(name: string, actual: string): void {
  const file = new URL(name, dir)
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(file, actual)
  expect(actual).toBe(readFileSync(file, 'utf8'))
}

describe('renderRestore', () => {
  const fresh = (kubeProxy: boolean) => {
    const rs = computeRuleset(exampleTables(), { kubeProxy })
    const fixes = new Map(rs.families.map((f) => [f.family, planJumps(parseSave(''), f).fixes]))
    return renderRestore(rs, fixes)
  }

  it('renders the first sync on a node with kube-proxy (golden)', () => {
    const r = fresh(true)
    golden('restore-v4.golden', r.iptables.get(4) ?? '')
    golden('restore-v6.golden', r.iptables.get(6) ?? '')
    golden('ipset-kube-proxy.golden', r.ipset)
  })

  it('captures every ClusterIP without kube-proxy (golden)', () => {
    golden('ipset-no-kube-proxy.golden', fresh(false).ipset)
  })

  it('keeps the rule count flat as the cluster grows', () => {
    const small = renderRestore(computeRuleset(exampleTables(), { kubeProxy: true }))
    const routes = Array.from({ length: 5000 }, (_, i) => ({
      cidr: `10.${(i >> 8) + 100}.${i & 255}.0/24`,
      family: 4 as const,
      class: i % 2 ? ('mesh' as const) : ('lan' as const),
      node: `n${i}`,
      reason: '',
    }))
    const big = renderRestore(computeRuleset({ routes, services: exampleTables().services }, { kubeProxy: true }))
    expect(big.ruleCount).toBe(small.ruleCount)
    expect(small.ruleCount).toBeLessThan(50)
  })

  it('renders nothing to clean when nothing of ours exists, and removes jumps before chains', () => {
    expect(renderCleanup([])).toBe('')
    const saved = parseSave(
      [
        '*nat',
        ':PREROUTING ACCEPT [0:0]',
        ':PODLINK-PREROUTING - [0:0]',
        '-A PREROUTING -j PODLINK-PREROUTING',
        '-A PODLINK-PREROUTING -j RETURN',
        'COMMIT',
      ].join('\n'),
    )
    golden(
      'cleanup.golden',
      renderCleanup([
        {
          table: 'nat',
          chains: new Map([['PODLINK-PREROUTING', 1]]),
          jumps: saved.get('nat')?.get('PREROUTING') ?? [],
        },
      ]),
    )
  })
})
