import { describe, expect, it } from 'vitest'
import { hasCode } from '../errors.ts'
import { compareIp, formatIp, isV4Mapped, parseIp, tryParseIp, unmapIp } from './ip-address.ts'

describe('parseIp / formatIp', () => {
  const valid: readonly [input: string, family: 4 | 6, canonical: string][] = [
    ['0.0.0.0', 4, '0.0.0.0'],
    ['10.244.1.7', 4, '10.244.1.7'],
    ['255.255.255.255', 4, '255.255.255.255'],
    ['192.168.1.10', 4, '192.168.1.10'],
    ['::', 6, '::'],
    ['::1', 6, '::1'],
    ['1::', 6, '1::'],
    ['2001:DB8:0:0:0:0:0:1', 6, '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', 6, '2001:db8::1:0:0:1'],
    ['2001:db8::1:0:0:1', 6, '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0001:0001:0001:0001:0001', 6, '2001:db8:0:1:1:1:1:1'],
    ['fd00:10:244:1::', 6, 'fd00:10:244:1::'],
    ['1:2:3:4:5:6:7::', 6, '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', 6, '0:2:3:4:5:6:7:8'],
    ['::ffff:10.244.1.7', 6, '::ffff:10.244.1.7'],
    ['::FFFF:0af4:0107', 6, '::ffff:10.244.1.7'],
    ['64:ff9b::192.0.2.33', 6, '64:ff9b::c000:221'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 6, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ]
  it.each(valid)('parses %s as IPv%i, canonical %s', (input, family, canonical) => {
    const ip = parseIp(input)
    expect(ip.family).toBe(family)
    expect(formatIp(ip)).toBe(canonical)
    expect(formatIp(parseIp(canonical))).toBe(canonical)
  })

  const invalid: readonly string[] = [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1.2.3.4 ',
    '1..2.3',
    '1.2.3.',
    'a.b.c.d',
    '10.244.1.0/24',
    ':',
    ':::',
    '1:::2',
    '1::2::3',
    ':1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::',
    '12345::',
    'g::1',
    'fe80::1%eth0',
    '::ffff:1.2.3',
    '1:2:3:4:5:6:7:1.2.3.4',
  ]
  it.each(invalid)('refuses %j with ERR_INVALID_IP', (input) => {
    expect(tryParseIp(input)).toBeNull()
    expect(() => parseIp(input)).toThrow(input === '' ? /""/ : input)
    try {
      parseIp(input)
    } catch (err) {
      expect(hasCode(err, 'ERR_INVALID_IP')).toBe(true)
    }
  })

  it('keeps IPv4 values unsigned', () => {
    expect(parseIp('255.0.0.1')).toEqual({ family: 4, value: 0xff000001 })
    expect(parseIp('::1')).toEqual({ family: 6, value: 1n })
  })
})

describe('v4-mapped addresses', () => {
  const cases: readonly [input: string, mapped: boolean, unmapped: string][] = [
    ['::ffff:192.168.1.10', true, '192.168.1.10'],
    ['::fffe:192.168.1.10', false, '::fffe:c0a8:10a'],
    ['192.168.1.10', false, '192.168.1.10'],
    ['2001:db8::1', false, '2001:db8::1'],
  ]
  it.each(cases)('%s: mapped=%s, unmapped %s', (input, mapped, unmapped) => {
    const ip = parseIp(input)
    expect(isV4Mapped(ip)).toBe(mapped)
    expect(formatIp(unmapIp(ip))).toBe(unmapped)
  })
})

describe('compareIp', () => {
  it('orders IPv4 before IPv6, then numerically', () => {
    const sorted = ['::1', '10.0.0.10', '10.0.0.9', 'fd00::', '9.255.255.255', '255.0.0.0']
      .map(parseIp)
      .sort(compareIp)
      .map(formatIp)
    expect(sorted).toEqual(['9.255.255.255', '10.0.0.9', '10.0.0.10', '255.0.0.0', '::1', 'fd00::'])
  })
})
