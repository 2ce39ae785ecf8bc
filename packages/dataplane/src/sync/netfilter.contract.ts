import { hasCode } from '@podlink/core'
import { expect, it } from 'vitest'
import { parseSave } from '../rules/observe-save.ts'
import type { PolicyRoute } from '../rules/ruleset.ts'
import type { Netfilter } from './netfilter.ts'

/**
 * What the syncer relies on, run against the fake (unit) and against real iptables in a namespace (lab).
 * `get` returns the implementation under test, on a kernel (or fake) with none of our objects.
 */
export function netfilterContract(get: () => Netfilter): void {
  const chain = 'PODLINK-CONTRACT'
  const file = (rules: string[]) => ['*nat', `:${chain} - [0:0]`, ...rules, 'COMMIT', ''].join('\n')
  const rulesOf = async (name: string) =>
    parseSave(await get().save(4))
      .get('nat')
      ?.get(name)

  it('creates a chain and replaces its contents on every restore (idempotent)', async () => {
    const nf = get()
    await nf.restore(4, file([`-A ${chain} -p tcp -j RETURN`, `-A ${chain} -p udp -j RETURN`]))
    await nf.restore(4, file([`-A ${chain} -p tcp -j RETURN`, `-A ${chain} -p udp -j RETURN`]))
    expect(await rulesOf(chain)).toHaveLength(2)
    await nf.restore(4, file([`-A ${chain} -p tcp -j RETURN`]))
    expect(await rulesOf(chain)).toHaveLength(1)
  })

  it('inserts a jump at position 1 and deletes it by the line save printed', async () => {
    const nf = get()
    await nf.restore(4, file([`-I PREROUTING 1 -m comment --comment "podlink contract" -j ${chain}`]))
    const line = (await rulesOf('PREROUTING'))?.find((l) => l.includes(`-j ${chain}`))
    expect(line).toBeDefined()
    await nf.restore(4, ['*nat', (line ?? '').replace(/^-A /, '-D '), `-X ${chain}`, 'COMMIT', ''].join('\n'))
    expect(await rulesOf(chain)).toBeUndefined()
  })

  it('fails a bad restore with a typed error and changes nothing', async () => {
    const nf = get()
    await nf.restore(4, file([`-A ${chain} -j RETURN`]))
    const bad = file([`-A ${chain} -p tcp -j RETURN`, `-A ${chain} -j PODLINK-NO-SUCH-CHAIN`])
    await expect(nf.restore(4, bad)).rejects.toSatisfy((e: unknown) => hasCode(e, 'DATAPLANE_RESTORE_FAILED'))
    expect(await rulesOf(chain)).toHaveLength(1)
    await expect(nf.restore(4, ['*nat', `-D PREROUTING -j ${chain}`, 'COMMIT', ''].join('\n'))).rejects.toSatisfy(
      (e: unknown) => hasCode(e, 'DATAPLANE_RESTORE_FAILED'),
    )
    await expect(nf.restore(4, ['*nat', `-X ${chain}`, 'COMMIT', ''].join('\n'))).rejects.toSatisfy((e: unknown) =>
      hasCode(e, 'DATAPLANE_RESTORE_FAILED'),
    )
    await nf.restore(4, ['*nat', `-F ${chain}`, `-X ${chain}`, 'COMMIT', ''].join('\n'))
    expect(await rulesOf(chain)).toBeUndefined()
  })

  it('creates, swaps and destroys ipsets', async () => {
    const nf = get()
    const head = 'hash:net family inet hashsize 1024 maxelem 65536'
    await nf.ipsetRestore(
      [
        `create PODLINK-C ${head} -exist`,
        `create PODLINK-C-T ${head} -exist`,
        'add PODLINK-C-T 10.1.0.0/16',
        'swap PODLINK-C-T PODLINK-C',
        'destroy PODLINK-C-T',
        '',
      ].join('\n'),
    )
    expect(await nf.ipsetNames()).toContain('PODLINK-C')
    expect(await nf.ipsetNames()).not.toContain('PODLINK-C-T')
    await expect(nf.ipsetRestore('add PODLINK-NOPE 10.0.0.0/8\n')).rejects.toSatisfy((e: unknown) =>
      hasCode(e, 'DATAPLANE_IPSET_FAILED'),
    )
    await nf.ipsetDestroy('PODLINK-C')
    await nf.ipsetDestroy('PODLINK-C')
    expect(await nf.ipsetNames()).not.toContain('PODLINK-C')
  })

  it('adds the policy route once and removes it, tolerating absence', async () => {
    const nf = get()
    const r: PolicyRoute = { mark: 0x1000, mask: 0x1000, table: 1599, priority: 1599 }
    for (const family of [4, 6] as const) {
      expect(await nf.hasPolicyRoute(family, r)).toBe(false)
      await nf.ensurePolicyRoute(family, r)
      await nf.ensurePolicyRoute(family, r)
      expect(await nf.hasPolicyRoute(family, r)).toBe(true)
      await nf.removePolicyRoute(family, r)
      await nf.removePolicyRoute(family, r)
      expect(await nf.hasPolicyRoute(family, r)).toBe(false)
    }
  })
}
