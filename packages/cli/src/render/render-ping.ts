import type { PingEvent } from '@podlink/core'
import { type Paint, pathStyle } from './colour.ts'
import { formatPath, shortPeerId } from './format.ts'

export function renderPingHeader(node: string, count: number): string {
  return `PING ${node} over the podlink mesh: ${count} probe(s)`
}

const ms = (v: number | null): string => (v === null ? '-' : v.toFixed(1))

/** One line per probe as it arrives (like ping(8)), and the statistics block for the summary. */
export function renderPingEvent(e: PingEvent, paint: Paint): string {
  switch (e.type) {
    case 'reply':
      return `reply from ${e.node} (${shortPeerId(e.peerId)}): seq=${e.seq} path=${paint(formatPath(e.path, e.relay), pathStyle(e.path))}${e.addr ? ` addr=${e.addr}` : ''} time=${ms(e.rttMs)} ms`
    case 'lost':
      return paint(`seq=${e.seq} lost: ${e.reason}`, 'red')
    case 'summary': {
      const loss = e.sent === 0 ? 0 : Math.round(((e.sent - e.received) / e.sent) * 100)
      return [
        `--- ${e.node} podlink ping statistics ---`,
        `${e.sent} probes sent, ${e.received} received, ${loss}% loss`,
        ...(e.received > 0 ? [`rtt min/avg/max = ${ms(e.minMs)}/${ms(e.avgMs)}/${ms(e.maxMs)} ms`] : []),
      ].join('\n')
    }
  }
}
