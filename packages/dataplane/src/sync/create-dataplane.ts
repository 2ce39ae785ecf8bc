import type { IpFamily } from '@podlink/core'
import {
  computeRuleset,
  type DataplaneTables,
  type RulesetOptions,
  resolveRulesetOptions,
} from '../rules/compute-ruleset.ts'
import { observeOurs, parseSave, planJumps } from '../rules/observe-save.ts'
import { type JumpFix, renderCleanup, renderRestore } from '../rules/render-restore.ts'
import { type PolicyRoute, SET_PREFIX } from '../rules/ruleset.ts'
import { type Clock, systemClock } from './clock.ts'
import type { IptablesMode, Netfilter } from './netfilter.ts'

export interface DataplaneDeps {
  readonly netfilter: Netfilter
  readonly clock?: Clock
  /** Told about every failed sync and every repair of outside changes (the agent logs and counts them). */
  readonly onEvent?: (event: DataplaneEvent) => void
}

export type DataplaneEvent =
  | { readonly kind: 'sync-failed'; readonly error: unknown }
  | { readonly kind: 'drift-repaired'; readonly drift: readonly string[] }

export interface DataplaneOptions extends RulesetOptions {
  /** Changes arriving faster than this are coalesced into one sync (kube-proxy's minSyncPeriod). */
  readonly minSyncIntervalMs?: number
  /** How often the kernel is checked for outside changes (flushed chains, kube-proxy's jump ahead of ours). */
  readonly resyncIntervalMs?: number
  /** `healthy` turns false when a queued change is not applied within this time (kube-proxy's /healthz). */
  readonly healthDeadlineMs?: number
}

export interface DataplaneStatus {
  readonly running: boolean
  readonly healthy: boolean
  readonly mode: IptablesMode
  readonly lastSyncAt: string | null
  readonly lastSyncDurationMs: number | null
  /** The last time a restore was written (not skipped as unchanged). */
  readonly lastWriteAt: string | null
  readonly syncs: number
  readonly writes: number
  readonly failures: number
  readonly consecutiveFailures: number
  readonly lastError: string | null
  /** Outside changes found and undone. */
  readonly repairs: number
  readonly lastDrift: readonly string[]
  /** Rules in our chains (flat: the cluster's size lives in the ipsets). */
  readonly ruleCount: number
  readonly setSizes: Readonly<Record<string, number>>
  readonly pendingSince: string | null
}

export interface Dataplane {
  /**
   * Removes leftovers of an earlier run, installs the rules for `tables` (or for a newer sync() made while it ran)
   * and starts the periodic check.
   */
  start(tables: DataplaneTables): Promise<void>
  /**
   * Queues desired state; applied within `minSyncIntervalMs`, coalesced with other calls. Made while start() runs,
   * it is not lost: start installs it, or it follows start's first sync.
   */
  sync(tables: DataplaneTables): void
  /** Applies whatever is queued now and waits for it; throws if that sync failed. */
  flush(): Promise<void>
  /** Removes every rule and set podlink made (and the ip rule and route earlier versions made). */
  stop(): Promise<void>
  /** Removes podlink's kernel state whether or not this process made it (after a crash); absent parts are fine. */
  cleanup(): Promise<void>
  status(): DataplaneStatus
}

const ALL_FAMILIES: readonly IpFamily[] = [4, 6]

export function createDataplane(deps: DataplaneDeps, options: DataplaneOptions): Dataplane {
  const nf = deps.netfilter
  const clock = deps.clock ?? systemClock
  const rs = resolveRulesetOptions(options)
  const minInterval = options.minSyncIntervalMs ?? 1000
  const resyncInterval = options.resyncIntervalMs ?? 30_000
  const healthDeadline = options.healthDeadlineMs ?? 60_000
  // Installed by earlier versions (UDP by TPROXY); removed by cleanup so an upgraded node keeps no stray ip rule.
  const legacyPolicyRoute: PolicyRoute = {
    mark: rs.tproxyMark,
    mask: rs.tproxyMark,
    table: rs.routeTable,
    priority: rs.rulePriority,
  }

  let running = false
  let desired: DataplaneTables | null = null
  let desiredVersion = 0
  let applied: { version: number; iptables: ReadonlyMap<IpFamily, string>; ipset: string } | null = null
  let needFull = true
  let inFlight: Promise<void> | null = null
  let again = false
  let timer: unknown = null
  let resyncTimer: unknown = null
  let lastRunAt = Number.NEGATIVE_INFINITY
  let pendingSince: number | null = null
  const st = {
    lastSyncAt: null as number | null,
    lastSyncDurationMs: null as number | null,
    lastWriteAt: null as number | null,
    syncs: 0,
    writes: 0,
    failures: 0,
    consecutiveFailures: 0,
    lastError: null as string | null,
    repairs: 0,
    lastDrift: [] as readonly string[],
    ruleCount: 0,
    setSizes: {} as Record<string, number>,
  }

  async function syncOnce(): Promise<void> {
    if (desired === null) return
    const started = clock.now()
    const version = desiredVersion
    const ruleset = computeRuleset(desired, rs)
    const plain = renderRestore(ruleset)
    const fixes = new Map<IpFamily, readonly JumpFix[]>()
    const drifted = new Set<IpFamily>()
    const drift: string[] = []
    for (const fam of ruleset.families) {
      const plan = planJumps(parseSave(await nf.save(fam.family)), fam)
      fixes.set(fam.family, plan.fixes)
      if (plan.drift.length) drifted.add(fam.family)
      drift.push(...plan.drift)
    }
    const full = needFull || drifted.size > 0
    let wrote = false
    if (full || plain.ipset !== applied?.ipset) {
      await nf.ipsetRestore(plain.ipset)
      wrote = true
    }
    const withFixes = renderRestore(ruleset, fixes)
    for (const fam of ruleset.families) {
      const f = fam.family
      if (needFull || drifted.has(f) || plain.iptables.get(f) !== applied?.iptables.get(f)) {
        await nf.restore(f, withFixes.iptables.get(f) ?? '')
        wrote = true
      }
    }
    if (applied !== null && drift.length) {
      st.repairs++
      deps.onEvent?.({ kind: 'drift-repaired', drift })
    }
    st.lastDrift = drift
    applied = { version, iptables: plain.iptables, ipset: plain.ipset }
    needFull = false
    const now = clock.now()
    st.lastSyncAt = now
    st.lastSyncDurationMs = now - started
    if (wrote) {
      st.lastWriteAt = now
      st.writes++
    }
    st.ruleCount = plain.ruleCount
    st.setSizes = Object.fromEntries(ruleset.families.flatMap((f) => f.sets.map((s) => [s.name, s.members.length])))
    if (version === desiredVersion) pendingSince = null
  }

  /** One sync at a time; a failure forces a full resync on the next attempt. */
  function run(): Promise<void> {
    if (inFlight) {
      again = true
      return inFlight
    }
    if (timer !== null) {
      clock.clearTimeout(timer)
      timer = null
    }
    lastRunAt = clock.now()
    const p = syncOnce().then(
      () => {
        st.syncs++
        st.consecutiveFailures = 0
        st.lastError = null
      },
      (error: unknown) => {
        st.failures++
        st.consecutiveFailures++
        st.lastError = error instanceof Error ? error.message : String(error)
        needFull = true
        pendingSince ??= clock.now()
        again = true
        deps.onEvent?.({ kind: 'sync-failed', error })
        throw error
      },
    )
    inFlight = p.finally(() => {
      inFlight = null
      if (again) {
        again = false
        schedule()
      }
    })
    inFlight.catch(() => {}) // reported through onEvent and status; flush() callers get `p` itself
    return p
  }

  function schedule(): void {
    if (!running) return
    if (inFlight) {
      again = true
      return
    }
    if (timer !== null) return
    const delay = Math.max(0, lastRunAt + minInterval - clock.now())
    timer = clock.setTimeout(() => {
      timer = null
      run().catch(() => {})
    }, delay)
  }

  function armResync(): void {
    resyncTimer = clock.setTimeout(() => {
      schedule()
      armResync()
    }, resyncInterval)
  }

  async function cleanup(): Promise<void> {
    for (const f of ALL_FAMILIES) {
      const text = renderCleanup(observeOurs(parseSave(await nf.save(f))))
      if (text) await nf.restore(f, text)
    }
    for (const name of await nf.ipsetNames()) if (name.startsWith(SET_PREFIX)) await nf.ipsetDestroy(name)
    for (const f of ALL_FAMILIES) await nf.removePolicyRoute(f, legacyPolicyRoute)
  }

  return {
    async start(tables) {
      desired = tables
      desiredVersion++
      pendingSince = clock.now()
      await cleanup()
      running = true
      needFull = true
      // A sync() while the leftovers were being removed is newer than `tables`: it is what the first run installs.
      // One during that run follows it (run() sees it as `again`). Dropped, it left a LAN peer's pod CIDR captured
      // while the agent's status said same-LAN, until the next change (1 fault run in ~8).
      await run()
      armResync()
    },
    sync(tables) {
      desired = tables
      desiredVersion++
      pendingSince ??= clock.now()
      schedule()
    },
    async flush() {
      while (inFlight) await inFlight.catch(() => {})
      await run()
    },
    async stop() {
      running = false
      if (timer !== null) clock.clearTimeout(timer)
      if (resyncTimer !== null) clock.clearTimeout(resyncTimer)
      timer = null
      resyncTimer = null
      while (inFlight) await inFlight.catch(() => {})
      await cleanup()
      applied = null
      needFull = true
    },
    cleanup,
    status() {
      const now = clock.now()
      const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString())
      return {
        running,
        healthy: pendingSince === null || now - pendingSince <= healthDeadline,
        mode: nf.mode,
        lastSyncAt: iso(st.lastSyncAt),
        lastSyncDurationMs: st.lastSyncDurationMs,
        lastWriteAt: iso(st.lastWriteAt),
        syncs: st.syncs,
        writes: st.writes,
        failures: st.failures,
        consecutiveFailures: st.consecutiveFailures,
        lastError: st.lastError,
        repairs: st.repairs,
        lastDrift: st.lastDrift,
        ruleCount: st.ruleCount,
        setSizes: { ...st.setSizes },
        pendingSince: iso(pendingSince),
      }
    },
  }
}
