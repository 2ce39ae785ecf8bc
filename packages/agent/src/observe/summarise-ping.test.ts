import { describe, expect, it } from 'vitest'
import { summarisePing } from './summarise-ping.ts'

const reply = (seq: number, rttMs: number) =>
  ({ type: 'reply', seq, node: 'b', peerId: 'P', path: 'direct', relay: null, addr: null, rttMs }) as const

describe('summarisePing', () => {
  it('counts replies and losses and rounds the statistics to microseconds', () => {
    expect(
      summarisePing('b', [reply(1, 10), { type: 'lost', seq: 2, node: 'b', reason: 'timeout' }, reply(3, 20.0004)]),
    ).toEqual({
      type: 'summary',
      node: 'b',
      sent: 3,
      received: 2,
      minMs: 10,
      avgMs: 15,
      maxMs: 20,
    })
  })
  it('has no statistics when nothing came back', () => {
    expect(summarisePing('b', [{ type: 'lost', seq: 1, node: 'b', reason: 'no path' }])).toMatchObject({
      sent: 1,
      received: 0,
      minMs: null,
    })
  })
})
