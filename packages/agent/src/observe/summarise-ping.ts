import type { PingEvent } from '@podlink/core'

type Probe = Extract<PingEvent, { type: 'reply' | 'lost' }>

/** The `summary` line that ends a `/ping` stream, from the probes sent so far. */
export function summarisePing(node: string, probes: readonly Probe[]): Extract<PingEvent, { type: 'summary' }> {
  const rtts = probes.flatMap((p) => (p.type === 'reply' ? [p.rttMs] : []))
  const round = (v: number): number => Math.round(v * 1000) / 1000
  return {
    type: 'summary',
    node,
    sent: probes.length,
    received: rtts.length,
    minMs: rtts.length === 0 ? null : round(Math.min(...rtts)),
    avgMs: rtts.length === 0 ? null : round(rtts.reduce((a, b) => a + b, 0) / rtts.length),
    maxMs: rtts.length === 0 ? null : round(Math.max(...rtts)),
  }
}
