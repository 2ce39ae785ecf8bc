import type { AgentStatus, RouteClass } from '@podlink/core'
import type { Paint, Style } from './colour.ts'
import { renderTable } from './render-table.ts'

const CLASS_STYLE: Readonly<Record<RouteClass, Style | null>> = {
  local: null,
  lan: 'green',
  mesh: 'cyan',
  conflict: 'red',
}

/** The route table as an operator reads it: one line per pod CIDR (in the agent's order), with the reason for its class. */
export function renderRoutes(s: AgentStatus, paint: Paint): string {
  const rows = s.routes.map((r) => [r.cidr, { text: r.class, style: CLASS_STYLE[r.class] }, r.node, r.reason])
  const out = [
    renderTable([{ header: 'CIDR' }, { header: 'CLASS' }, { header: 'NODE' }, { header: 'REASON' }], rows, paint),
  ]
  if (s.conflicts.length > 0) out.push('', paint(`${s.conflicts.length} conflict(s): see podlink conflicts`, 'red'))
  return out.join('\n')
}
