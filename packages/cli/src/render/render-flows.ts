import type { AgentStatus, FlowStatus } from '@podlink/core'
import { type Paint, pathStyle } from './colour.ts'
import { formatAge, formatBytes } from './format.ts'
import { renderTable } from './render-table.ts'

export const FLOW_SORTS = ['bytes', 'tx', 'rx', 'age'] as const
export type FlowSort = (typeof FLOW_SORTS)[number]

/** Largest first for byte sorts, oldest first for `age`; ties by id so redraws do not shuffle rows. */
export function sortFlows(flows: readonly FlowStatus[], by: FlowSort): FlowStatus[] {
  const key = (f: FlowStatus): number => {
    switch (by) {
      case 'tx':
        return f.txBytes
      case 'rx':
        return f.rxBytes
      case 'bytes':
        return f.txBytes + f.rxBytes
      case 'age':
        return -Date.parse(f.startedAt)
    }
  }
  return [...flows].sort((a, b) => key(b) - key(a) || a.id.localeCompare(b.id))
}

/** `podlink flows`: every captured connection or UDP association the mesh carries right now. */
export function renderFlows(s: AgentStatus, by: FlowSort, now: Date, paint: Paint): string {
  if (s.flows.length === 0) return 'no flows'
  const rows = sortFlows(s.flows, by).map((f) => [
    f.protocol,
    f.source,
    f.destination,
    f.endpoint === f.destination ? '=' : f.endpoint,
    f.service ?? '-',
    f.peer,
    { text: f.path, style: pathStyle(f.path) },
    f.channel ?? '-',
    formatBytes(f.txBytes),
    formatBytes(f.rxBytes),
    formatAge(f.startedAt, now),
  ])
  return renderTable(
    [
      { header: 'PROTO' },
      { header: 'SOURCE' },
      { header: 'DESTINATION' },
      { header: 'ENDPOINT' },
      { header: 'SERVICE' },
      { header: 'PEER' },
      { header: 'PATH' },
      { header: 'CHANNEL' },
      { header: 'TX', right: true },
      { header: 'RX', right: true },
      { header: 'AGE', right: true },
    ],
    rows,
    paint,
  )
}
