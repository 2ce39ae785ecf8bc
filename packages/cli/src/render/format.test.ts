import { describe, expect, it } from 'vitest'
import { FIXTURE_NOW } from '../testing/fixture-status.ts'
import { visibleLength, wantColour } from './colour.ts'
import { formatAddress, formatAge, formatBytes, formatPath, formatRtt, shortPeerId } from './format.ts'

describe('format', () => {
  it.each([
    [0, '0B'],
    [1023, '1023B'],
    [1536, '1.5KiB'],
    [73_400_320, '70.0MiB'],
    [1_000_000_000, '954MiB'],
    [5 * 1024 ** 4, '5.0TiB'],
  ])('formatBytes(%d) = %s', (n, want) => expect(formatBytes(n)).toBe(want))

  it.each([
    [null, '-'],
    [0, '0s'],
    [59, '59s'],
    [190, '3m10s'],
    [7500, '2h5m'],
    [90_000, '1d1h'],
    [-10, '0s'],
  ])('formatAge(%s seconds ago) = %s', (s, want) =>
    expect(formatAge(s === null ? null : new Date(FIXTURE_NOW.getTime() - s * 1000).toISOString(), FIXTURE_NOW)).toBe(
      want,
    ),
  )

  it.each([
    [null, '-'],
    [0.42, '0.4ms'],
    [23.5, '24ms'],
  ])('formatRtt(%s) = %s', (ms, want) => expect(formatRtt(ms)).toBe(want))

  it.each([
    ['12D3KooWA1aaaaaaaaaaaaaaaaaaaaaaaaaaaa1', 'A1aaaa…aaa1'],
    ['QmShort', 'QmShort'],
    ['', '-'],
  ])('shortPeerId(%s) = %s', (id, want) => expect(shortPeerId(id)).toBe(want))

  it.each([
    [['/ip4/203.0.113.10/tcp/4001'], '203.0.113.10:4001'],
    [['/ip6/2001:db8::1/udp/4001/quic-v1'], '[2001:db8::1]:4001'],
    [['/ip4/203.0.113.10/tcp/4001/p2p/X/p2p-circuit'], '203.0.113.10:4001 (circuit)'],
    [['/dnsaddr/bootstrap'], '/dnsaddr/bootstrap'],
    [[], '-'],
  ])('formatAddress(%j) = %s', (addrs, want) => expect(formatAddress(addrs)).toBe(want))

  it('formatPath names the relay', () => {
    expect(formatPath('relay', 'edge-b1')).toBe('relay via edge-b1')
    expect(formatPath('punched', null)).toBe('punched')
  })

  it.each([
    [true, {}, true],
    [false, {}, false],
    [true, { NO_COLOR: '1' }, false],
    [true, { NO_COLOR: '' }, true],
    [true, { TERM: 'dumb' }, false],
  ])('wantColour(tty=%s, %j) = %s', (tty, env, want) => expect(wantColour(tty, env)).toBe(want))

  it('visibleLength ignores ANSI escapes', () => expect(visibleLength('\x1b[32mlan\x1b[0m')).toBe(3))
})
