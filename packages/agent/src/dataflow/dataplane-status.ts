import type { DataplaneStatus as CoreDataplaneStatus } from '@podlink/core'
import type { Dataplane } from '@podlink/dataplane'

/** The dataplane's own status, in AgentStatus terms. */
export function dataplaneStatus(dp: Dataplane | null, marks: { bypass: number; tproxy: number }): CoreDataplaneStatus {
  if (!dp) {
    return {
      enabled: false,
      iptablesMode: null,
      lastSyncAt: null,
      lastSyncMs: null,
      syncFailures: 0,
      ruleCount: 0,
      capturedCidrs: 0,
      capturedServices: 0,
      healthy: true,
      lastError: null,
      marks,
    }
  }
  const s = dp.status()
  const sets = Object.entries(s.setSizes)
  const sum = (pred: (name: string) => boolean): number => sets.filter(([n]) => pred(n)).reduce((a, [, v]) => a + v, 0)
  return {
    enabled: true,
    iptablesMode: s.mode,
    lastSyncAt: s.lastSyncAt,
    lastSyncMs: s.lastSyncDurationMs,
    syncFailures: s.failures,
    ruleCount: s.ruleCount,
    capturedCidrs: sum((n) => n.includes('MESH')),
    capturedServices: sum((n) => n.includes('SVC')),
    healthy: s.healthy,
    lastError: s.lastError,
    marks,
  }
}
