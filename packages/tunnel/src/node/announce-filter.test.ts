import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { createAnnounceFilter } from './announce-filter.ts'

const relay = '/ip4/10.0.8.10/tcp/4001/p2p/12D3KooWF89bSq2eZQxvLwyDGsQtP1DBhy3Mv5QGeQbC7hLjbLoj/p2p-circuit'
const table: Array<[string, string[], boolean]> = [
  ['/ip4/127.0.0.1/tcp/4001', [], false],
  ['/ip4/192.168.1.2/tcp/4001', [], false],
  ['/ip4/10.0.8.10/tcp/4001', [], false],
  ['/ip4/100.64.1.1/tcp/4001', [], false],
  ['/ip4/203.0.113.21/tcp/4001', [], false],
  ['/ip4/203.0.113.21/tcp/4001', ['203.0.113.0/24'], true],
  ['/ip4/100.64.1.1/tcp/4001', ['100.64.0.0/10'], true],
  ['/ip4/8.8.8.8/tcp/4001', [], true],
  ['/ip6/::1/tcp/4001', [], false],
  ['/ip6/fd00::1/tcp/4001', [], false],
  ['/ip6/fe80::1/tcp/4001', [], false],
  ['/ip6/2a00:1450::1/tcp/4001', [], true],
  ['/dns4/edge.example.com/tcp/4001', [], true],
  [relay, [], true],
]

describe('announce filter', () => {
  it.each(table)('%s with public ranges %j -> %s', (addr, ranges, kept) => {
    expect(createAnnounceFilter(ranges)([multiaddr(addr)]).length).toBe(kept ? 1 : 0)
  })
})
