import type { DestinationTrace, TraceHop } from '@podlink/core'
import { type Paint, pathStyle, type Style } from './colour.ts'
import { formatPath } from './format.ts'
import { renderTable } from './render-table.ts'

function hopClassStyle(h: TraceHop): Style | null {
  if (h.class === 'conflict' || h.class === 'none') return 'red'
  return h.class === 'mesh' ? 'cyan' : 'green'
}

/** `podlink trace`: what the address is, whether the dataplane captures it, and where each candidate goes. */
export function renderTrace(t: DestinationTrace, paint: Paint): string {
  const what =
    t.kind === 'service'
      ? `ClusterIP of ${[...new Set(t.services.map((e) => `${e.service}${e.portName ? ` (${e.portName})` : ''}`))].join(', ')}`
      : t.kind === 'pod'
        ? `pod address in ${t.route?.cidr ?? '?'} of ${t.route?.node ?? '?'}`
        : 'neither a ClusterIP nor inside a known pod CIDR'
  const lines = [`${paint('destination', 'bold')}  ${t.destination}: ${what}`]
  if (t.route)
    lines.push(
      `${paint('route', 'bold')}        ${t.route.cidr} -> ${t.route.node} (${t.route.class}): ${t.route.reason}`,
    )
  const c = t.capture
  if (c === null) lines.push(`${paint('capture', 'bold')}      not traced (dataplane disabled, or no port given)`)
  else if (c.captured) {
    lines.push(
      `${paint('capture', 'bold')}      ${paint(`captured by ${c.via} to port ${c.port}`, 'cyan')}: ${c.reason}`,
    )
    lines.push(`             ${paint(c.rule, 'dim')}`)
  } else lines.push(`${paint('capture', 'bold')}      not captured: ${c.reason}`)
  if (t.hops.length > 0) {
    lines.push('')
    const rows = t.hops.map((h) => [
      h.target,
      h.node ?? '-',
      { text: h.class, style: hopClassStyle(h) },
      h.path === null ? { text: '-' } : { text: formatPath(h.path, h.relay), style: pathStyle(h.path) },
      h.reason,
    ])
    lines.push(
      renderTable(
        [{ header: 'TARGET' }, { header: 'NODE' }, { header: 'CLASS' }, { header: 'PATH' }, { header: 'REASON' }],
        rows,
        paint,
      ),
    )
  }
  lines.push('', `${paint('verdict', 'bold')}      ${paint(t.verdict, t.broken ? 'red' : 'green')}`)
  return lines.join('\n')
}
