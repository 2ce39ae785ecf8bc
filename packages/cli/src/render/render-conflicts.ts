import type { AgentStatus } from '@podlink/core'
import type { Paint } from './colour.ts'
import { renderTable } from './render-table.ts'

/** `podlink conflicts`: what the agent refuses to route, and why. */
export function renderConflicts(s: AgentStatus, paint: Paint): string {
  if (s.conflicts.length === 0) return 'no conflicts'
  const rows = s.conflicts.map((c) => [
    { text: c.kind, style: 'red' as const },
    c.nodes.join(','),
    c.cidr ?? c.peerId ?? '-',
    c.reason,
  ])
  return renderTable(
    [{ header: 'KIND' }, { header: 'NODES' }, { header: 'SUBJECT' }, { header: 'REASON' }],
    rows,
    paint,
  )
}
