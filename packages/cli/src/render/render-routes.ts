import type { AgentStatus } from '@podlink/core'

/** The route table as an operator reads it: one line per pod CIDR, with the reason for its class. */
export function renderRoutes(s: AgentStatus): string {
  const view = s.view.stale ? 'STALE (from cache: the API is unreachable)' : s.view.synced ? 'synced' : 'not synced yet'
  const lines = [`node ${s.node}  peer ${s.peerId ?? '-'}  view ${view}`, '']
  const rows = [['CIDR', 'CLASS', 'NODE', 'REASON'], ...s.routes.map((r) => [r.cidr, r.class, r.node, r.reason])]
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)))
  for (const r of rows) lines.push(r.map((c, i) => (i < 3 ? c.padEnd(widths[i]! + 2) : c)).join(''))
  if (s.conflicts.length > 0) {
    lines.push('', 'CONFLICTS')
    for (const c of s.conflicts) lines.push(`  ${c.kind} ${c.nodes.join(',')}: ${c.reason}`)
  }
  return lines.join('\n')
}
