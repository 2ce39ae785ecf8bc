import type { AgentStatus } from '@podlink/core'
import type { Paint } from './colour.ts'
import { formatAge, formatRtt, shortPeerId } from './format.ts'

/** "2 lan, 1 relay" in the given order, kinds with no member left out. */
function countBy(values: readonly string[], order: readonly string[]): string {
  const counts = order.map((k) => [k, values.filter((v) => v === k).length] as const).filter(([, n]) => n > 0)
  return counts.length === 0 ? '0' : counts.map(([k, n]) => `${n} ${k}`).join(', ')
}

/**
 * `podlink status`: the node on one screen. Every line is a field (or a count of a list) of the status
 * object; problems are listed last, each with where to look next.
 */
export function renderStatus(s: AgentStatus, now: Date, paint: Paint): string {
  const view = s.view.stale
    ? paint('STALE (from cache: the API server is unreachable)', 'red')
    : s.view.synced
      ? paint('synced', 'green')
      : paint('not synced yet', 'yellow')
  const dp = s.dataplane
  const dataplane = !dp.enabled
    ? 'disabled'
    : `${dp.iptablesMode ?? 'mode unknown'}, ${dp.ruleCount} rules, ${dp.capturedCidrs} CIDRs + ${dp.capturedServices} services captured, last sync ${formatAge(dp.lastSyncAt, now)} ago (${dp.lastSyncMs ?? '-'}ms), ${dp.syncFailures} failures${dp.healthy ? '' : paint(' UNHEALTHY', 'red')}`
  const relays =
    s.relays.length === 0
      ? 'none'
      : s.relays
          .map(
            (r) =>
              `${r.node} ${r.reserved ? paint('reserved', 'green') : paint('not reserved', 'yellow')} ${formatRtt(r.rttMs)}`,
          )
          .join('; ')
  const peers = countBy(
    s.peers.map((p) => p.path),
    ['lan', 'direct', 'punched', 'relay', 'none'],
  )
  const lines = [
    `${paint('node', 'bold')}       ${s.node}  peer ${shortPeerId(s.peerId)}  version ${s.version}  up ${formatAge(s.startedAt, now)}`,
    `${paint('view', 'bold')}       ${view}, last sync ${formatAge(s.view.lastSyncAt, now)} ago`,
    `${paint('health', 'bold')}     ${s.health.ready ? paint('ready', 'green') : paint('not ready', 'red')}, ${s.health.healthy ? paint('healthy', 'green') : paint('unhealthy', 'red')}`,
    `${paint('routes', 'bold')}     ${countBy(
      s.routes.map((r) => r.class),
      ['local', 'lan', 'mesh', 'conflict'],
    )}`,
    `${paint('services', 'bold')}   ${s.services.length} (${s.services.filter((e) => e.offLan).length} captured)`,
    `${paint('peers', 'bold')}      ${peers}`,
    `${paint('relays', 'bold')}     ${relays}`,
    `${paint('flows', 'bold')}      ${s.flows.length}`,
    `${paint('dataplane', 'bold')}  ${dataplane}`,
  ]
  const problems: string[] = [...s.health.reasons]
  if (s.conflicts.length > 0) problems.push(`${s.conflicts.length} conflict(s): podlink conflicts`)
  for (const p of s.peers.filter((p) => p.path === 'none'))
    problems.push(`${p.node} unreachable: ${p.reason ?? 'no reason recorded'}`)
  if (dp.lastError) problems.push(`dataplane: ${dp.lastError}`)
  if (problems.length > 0) {
    lines.push('', paint('problems', 'red'))
    for (const p of problems) lines.push(`  - ${p}`)
  }
  return lines.join('\n')
}
