import { describe, expect, it } from 'vitest'
import { encodeSockaddr, parseSockaddr } from './sockaddr.ts'

describe('sockaddr', () => {
  it.each([
    [4, '10.244.9.10', 80],
    [6, 'fd44::10', 443],
    [6, '2001:db8:0:1:1:1:1:1', 9],
    [6, '::1', 15001],
  ] as const)('round-trips IPv%s %s:%s', (family, address, port) => {
    expect(parseSockaddr(encodeSockaddr(family, address, port))).toEqual({ family, address, port })
  })
  it('unmaps IPv4-mapped IPv6', () => {
    expect(parseSockaddr(encodeSockaddr(6, '::ffff:10.1.2.3', 5))).toEqual({ family: 4, address: '10.1.2.3', port: 5 })
  })
})
