import { describe, expect, it } from 'vitest'
import { createPeerTable } from './peer-table.ts'

describe('peer table', () => {
  it('tracks path, since, counters and renders sorted PeerStatus objects', () => {
    let t = Date.parse('2026-01-01T00:00:00Z')
    const table = createPeerTable({ now: () => new Date(t) })
    table.upsert('12D3b', { node: 'edge2-a', addrs: ['/ip4/203.0.113.22/tcp/4001'] })
    table.upsert('12D3a', { node: 'edge1-a', lan: true })
    table.setPath('12D3b', 'relay', { relay: 'master', reason: 'punch: symmetric NAT' })
    const since = table.get('12D3b')?.since
    t += 5000
    table.setRtt('12D3b', 12.5)
    table.setPath('12D3b', 'relay', { relay: 'master' })
    expect(table.get('12D3b')?.since).toBe(since)
    table.addBytes('12D3b', 100, 50)
    table.flowOpened('12D3b')
    table.flowOpened('12D3b')
    table.flowClosed('12D3b')
    expect(table.status().map((p) => p.node)).toEqual(['edge1-a', 'edge2-a'])
    expect(table.get('12D3b')).toEqual({
      node: 'edge2-a',
      peerId: '12D3b',
      lan: false,
      path: 'relay',
      relay: 'master',
      rttMs: 12.5,
      addrs: ['/ip4/203.0.113.22/tcp/4001'],
      txBytes: 100,
      rxBytes: 50,
      flows: 1,
      since: '2026-01-01T00:00:00.000Z',
      reason: 'punch: symmetric NAT',
    })
    table.setPath('12D3b', 'punched')
    expect(table.get('12D3b')).toMatchObject({ path: 'punched', relay: null, since: '2026-01-01T00:00:05.000Z' })
    table.setPath('12D3b', 'direct')
    expect(table.get('12D3b')?.reason).toBeNull()
  })
})
