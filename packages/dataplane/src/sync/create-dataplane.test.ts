import { describe, expect, it } from 'vitest'
import type { DataplaneTables } from '../rules/compute-ruleset.ts'
import { parseSave } from '../rules/observe-save.ts'
import { exampleTables } from '../testing/example-tables.ts'
import { createFakeNetfilter } from '../testing/fake-netfilter.ts'
import { createManualClock } from '../testing/manual-clock.ts'
import { createDataplane } from './create-dataplane.ts'

const settle = () => new Promise((r) => setImmediate(r))

function setup() {
  const nf = createFakeNetfilter()
  const clock = createManualClock()
  const events: string[] = []
  const dp = createDataplane(
    { netfilter: nf, clock, onEvent: (e) => events.push(e.kind) },
    { kubeProxy: true, minSyncIntervalMs: 1000, resyncIntervalMs: 30_000, healthDeadlineMs: 10_000 },
  )
  const nat = async (chain: string) =>
    parseSave(await nf.save(4))
      .get('nat')
      ?.get(chain) ?? []
  return { nf, clock, dp, events, nat }
}

const more = (t: DataplaneTables): DataplaneTables => ({
  ...t,
  routes: [...t.routes, { cidr: '10.244.13.0/24', family: 4, class: 'mesh', node: 'cloud-2', reason: '' }],
})

describe('createDataplane', () => {
  it('installs nat chains, jumps and sets on start; no mangle chain and no policy route', async () => {
    const { nf, dp, nat } = setup()
    await dp.start(exampleTables())
    expect((await nat('PREROUTING'))[0]).toMatch(/-j PODLINK-PREROUTING$/)
    expect(await nat('PODLINK-PREROUTING')).toHaveLength(6)
    expect(nf.ipsetMembers('PODLINK-MESH-4')).toEqual(['10.244.12.0/24', '10.244.9.0/24'])
    expect(await nat('PODLINK-PREROUTING')).toContainEqual(
      expect.stringMatching(/-p udp .*-j REDIRECT --to-ports 15002$/),
    )
    expect(nf.policyRoutes()).toEqual([])
    expect(
      [
        ...(parseSave(await nf.save(4))
          .get('mangle')
          ?.keys() ?? []),
      ].filter((c) => c.startsWith('PODLINK')),
    ).toEqual([])
    expect(dp.status()).toMatchObject({ running: true, healthy: true, syncs: 1, failures: 0, ruleCount: 24 })
  })

  it('skips the restore when nothing changed, and coalesces changes within the minimum interval', async () => {
    const { nf, clock, dp } = setup()
    await dp.start(exampleTables())
    const restores = () => nf.calls.filter((c) => c.startsWith('restore') || c === 'ipset restore').length
    const before = restores()
    clock.advance(5000)
    dp.sync(exampleTables())
    clock.advance(0)
    await settle()
    await dp.flush()
    expect(restores()).toBe(before)
    dp.sync(more(exampleTables()))
    dp.sync(more(more(exampleTables())))
    clock.advance(0)
    await dp.flush()
    expect(nf.ipsetMembers('PODLINK-MESH-4')).toContain('10.244.13.0/24')
    expect(restores()).toBe(before + 1) // only the ipset: a new CIDR adds no rule
  })

  // The agent recomputes its routing while the data plane starts (a LAN verdict or a Node coming in): dropped, a
  // same-LAN peer's pod CIDR stayed captured until the next change (the fault suite, 1 run in ~8).
  it('installs a sync() made while start removes leftovers, and applies one made during its first run after it', async () => {
    const { nf, clock, dp } = setup()
    const gate = (method: 'ipsetNames' | 'ipsetRestore') => {
      const real = nf[method].bind(nf) as (...a: unknown[]) => Promise<unknown>
      let open!: () => void
      const opened = new Promise<void>((r) => {
        open = r
      })
      let entered!: () => void
      const reached = new Promise<void>((r) => {
        entered = r
      })
      ;(nf as unknown as Record<string, unknown>)[method] = async (...a: unknown[]) => {
        entered()
        await opened
        ;(nf as unknown as Record<string, unknown>)[method] = real
        return real(...a)
      }
      return { open, reached }
    }
    /** Starts with the example tables and syncs one more CIDR while start is inside `method`. */
    const syncDuringStart = async (method: 'ipsetNames' | 'ipsetRestore') => {
      const held = gate(method)
      const started = dp.start(exampleTables())
      await held.reached
      dp.sync(more(exampleTables()))
      held.open()
      await started
    }
    // During cleanup (the leftovers listed): start installs the newer tables at once.
    await syncDuringStart('ipsetNames')
    expect(nf.ipsetMembers('PODLINK-MESH-4')).toContain('10.244.13.0/24')
    await dp.stop()
    // During the first run: the sync follows it within the minimum interval.
    await syncDuringStart('ipsetRestore')
    expect(nf.ipsetMembers('PODLINK-MESH-4')).not.toContain('10.244.13.0/24')
    clock.advance(1000)
    await settle()
    await settle()
    expect(nf.ipsetMembers('PODLINK-MESH-4')).toContain('10.244.13.0/24')
    expect(dp.status().pendingSince).toBeNull()
  })

  it('waits the minimum interval between syncs', async () => {
    const { nf, clock, dp } = setup()
    await dp.start(exampleTables())
    dp.sync(more(exampleTables()))
    clock.advance(500)
    await settle()
    expect(nf.ipsetMembers('PODLINK-MESH-4')).not.toContain('10.244.13.0/24')
    clock.advance(500)
    await settle()
    await settle()
    expect(nf.ipsetMembers('PODLINK-MESH-4')).toContain('10.244.13.0/24')
  })

  it('counts a failure, reports unhealthy after the deadline, and resyncs fully afterwards', async () => {
    const { nf, clock, dp, events } = setup()
    await dp.start(exampleTables())
    nf.failRestores(100)
    dp.sync(more(exampleTables()))
    await expect(dp.flush()).rejects.toThrow(/injected/)
    expect(dp.status()).toMatchObject({ failures: 1, healthy: true })
    expect(events).toContain('sync-failed')
    clock.advance(11_000)
    await settle()
    expect(dp.status().healthy).toBe(false)
    nf.failRestores(0)
    await dp.flush()
    expect(dp.status()).toMatchObject({ healthy: true, consecutiveFailures: 0 })
    expect(nf.calls.slice(-3)).toEqual(['ipset restore', 'restore 4', 'restore 6']) // full: everything rewritten
  })

  it('repairs a flushed chain and a missing canary', async () => {
    const { nf, dp, nat, events } = setup()
    await dp.start(exampleTables())
    await nf.restore(4, '*nat\n-F PODLINK-PREROUTING\nCOMMIT\n')
    await dp.flush()
    expect(await nat('PODLINK-PREROUTING')).toHaveLength(6)
    expect(dp.status().repairs).toBe(1)
    expect(dp.status().lastDrift.join()).toMatch(/PODLINK-PREROUTING has 0 rules/)
    await nf.restore(6, '*nat\n-X PODLINK-CANARY\nCOMMIT\n')
    await dp.flush()
    expect(
      parseSave(await nf.save(6))
        .get('nat')
        ?.has('PODLINK-CANARY'),
    ).toBe(true)
    expect(events.filter((e) => e === 'drift-repaired')).toHaveLength(2)
  })

  it("puts its jump back ahead of kube-proxy's KUBE-SERVICES", async () => {
    const { nf, dp, nat } = setup()
    await dp.start(exampleTables())
    await nf.restore(
      4,
      '*nat\n:KUBE-SERVICES - [0:0]\n-I PREROUTING 1 -j KUBE-SERVICES\n-I OUTPUT 1 -j KUBE-SERVICES\nCOMMIT\n',
    )
    expect((await nat('PREROUTING'))[0]).toBe('-A PREROUTING -j KUBE-SERVICES')
    await dp.flush()
    for (const chain of ['PREROUTING', 'OUTPUT']) {
      const rules = await nat(chain)
      expect(rules).toHaveLength(2)
      expect(rules[0]).toMatch(/-j PODLINK-/)
      expect(rules[1]).toBe(`-A ${chain} -j KUBE-SERVICES`)
    }
  })

  it('removes everything on stop and after a crash, leaving foreign rules alone', async () => {
    const { nf, dp, clock } = setup()
    await nf.restore(4, '*mangle\nCOMMIT\n*nat\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n')
    const baseline = await nf.save(4)
    await dp.start(exampleTables())
    // A second agent after a crash of the first: start clears the leftovers, no jump is duplicated.
    const again = createDataplane({ netfilter: nf, clock }, { kubeProxy: true })
    await again.start(exampleTables())
    const pre =
      parseSave(await nf.save(4))
        .get('nat')
        ?.get('PREROUTING') ?? []
    expect(pre.filter((l) => l.includes('PODLINK-'))).toHaveLength(1)
    await again.stop()
    expect((await nf.save(4)).replace(/^:(PODLINK|KUBE)[^\n]*\n/gm, '')).toBe(baseline.replace(/^:KUBE[^\n]*\n/gm, ''))
    expect(await nf.ipsetNames()).toEqual([])
    expect(nf.policyRoutes()).toEqual([])
    expect(
      parseSave(await nf.save(6))
        .get('nat')
        ?.get('PODLINK-PREROUTING'),
    ).toBeUndefined()
    await dp.cleanup() // nothing left: tolerated
  })

  it('removes what a TPROXY-era agent left (mangle chains, jumps, policy route) on start', async () => {
    const { nf, dp } = setup()
    await nf.restore(
      4,
      [
        '*mangle',
        ':PODLINK-CANARY - [0:0]',
        ':PODLINK-PREROUTING - [0:0]',
        '-A PREROUTING -j PODLINK-PREROUTING',
        '-A PODLINK-PREROUTING -p udp -j TPROXY --on-port 15002 --on-ip 0.0.0.0 --tproxy-mark 0x1000/0x1000',
        'COMMIT',
        '',
      ].join('\n'),
    )
    await nf.ensurePolicyRoute(4, { mark: 0x1000, mask: 0x1000, table: 1511, priority: 1511 })
    await dp.start(exampleTables())
    const mangle = parseSave(await nf.save(4)).get('mangle')
    expect([...(mangle?.keys() ?? [])].filter((c) => c.startsWith('PODLINK'))).toEqual([])
    expect(mangle?.get('PREROUTING') ?? []).toEqual([])
    expect(nf.policyRoutes()).toEqual([])
  })
})
