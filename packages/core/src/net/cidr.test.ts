import { describe, expect, it } from 'vitest'
import { hasCode } from '../errors.ts'
import {
  cidrContains,
  cidrContainsCidr,
  cidrLast,
  cidrsOverlap,
  compareCidr,
  formatCidr,
  parseCidr,
  tryParseCidr,
} from './cidr.ts'
import { parseIp } from './ip-address.ts'

describe('parseCidr', () => {
  const valid: readonly [input: string, family: 4 | 6, prefix: number, canonical: string][] = [
    ['10.244.1.0/24', 4, 24, '10.244.1.0/24'],
    ['0.0.0.0/0', 4, 0, '0.0.0.0/0'],
    ['10.244.1.7/32', 4, 32, '10.244.1.7/32'],
    ['10.0.0.0/8', 4, 8, '10.0.0.0/8'],
    ['fd00:10:244:1::/64', 6, 64, 'fd00:10:244:1::/64'],
    ['FD00:0010:0244:0001:0000::/64', 6, 64, 'fd00:10:244:1::/64'],
    ['::/0', 6, 0, '::/0'],
    ['2001:db8::1/128', 6, 128, '2001:db8::1/128'],
  ]
  it.each(valid)('parses %s', (input, family, prefix, canonical) => {
    const cidr = parseCidr(input)
    expect(cidr.family).toBe(family)
    expect(cidr.prefixLength).toBe(prefix)
    expect(formatCidr(cidr)).toBe(canonical)
  })

  const invalid: readonly [input: string, reason: RegExp][] = [
    ['10.244.1.0', /no \/prefix-length/],
    ['10.244.1.5/24', /host bits are set \(the network is 10\.244\.1\.0\/24\)/],
    ['10.244.1.0/33', /from 0 to 32/],
    ['10.244.1.0/-1', /from 0 to 32/],
    ['10.244.1.0/024', /from 0 to 32/],
    ['10.244.1.0/', /from 0 to 32/],
    ['10.244.1.0/2 4', /from 0 to 32/],
    ['fd00::/129', /from 0 to 128/],
    ['fd00::1/64', /host bits are set \(the network is fd00::\/64\)/],
    ['banana', /no \/prefix-length/],
    ['10.244.300.0/24', /"10.244.300.0" is not an IP address/],
    ['/24', /"" is not an IP address/],
    ['', /no \/prefix-length/],
  ]
  it.each(invalid)('refuses %j: %s', (input, reason) => {
    expect(tryParseCidr(input)).toBeNull()
    let thrown: unknown
    try {
      parseCidr(input)
    } catch (err) {
      thrown = err
    }
    expect(hasCode(thrown, 'ERR_INVALID_CIDR')).toBe(true)
    expect((thrown as Error).message).toContain(`Cannot parse CIDR ${JSON.stringify(input)} as a network`)
    expect((thrown as Error).message).toMatch(reason)
  })
})

describe('cidrContains', () => {
  const cases: readonly [cidr: string, ip: string, contained: boolean][] = [
    ['10.244.1.0/24', '10.244.1.0', true],
    ['10.244.1.0/24', '10.244.1.255', true],
    ['10.244.1.0/24', '10.244.2.0', false],
    ['10.244.1.0/24', '10.244.0.255', false],
    ['0.0.0.0/0', '255.255.255.255', true],
    ['128.0.0.0/1', '200.1.1.1', true],
    ['128.0.0.0/1', '127.255.255.255', false],
    ['10.244.1.7/32', '10.244.1.7', true],
    ['10.244.1.0/24', '::ffff:10.244.1.9', true],
    ['10.244.1.0/24', 'fd00::1', false],
    ['fd00:10:244:1::/64', 'fd00:10:244:1::abcd', true],
    ['fd00:10:244:1::/64', 'fd00:10:244:2::1', false],
    ['::/0', 'ffff::', true],
    ['fd00::/8', '10.0.0.1', false],
  ]
  it.each(cases)('%s contains %s: %s', (cidr, ip, contained) => {
    expect(cidrContains(parseCidr(cidr), parseIp(ip))).toBe(contained)
  })
})

describe('cidrsOverlap / cidrContainsCidr', () => {
  const cases: readonly [a: string, b: string, overlap: boolean, aContainsB: boolean][] = [
    ['10.244.1.0/24', '10.244.1.0/24', true, true],
    ['10.244.0.0/16', '10.244.1.0/24', true, true],
    ['10.244.1.0/24', '10.244.0.0/16', true, false],
    ['10.244.1.0/24', '10.244.2.0/24', false, false],
    ['10.244.0.0/16', '10.245.0.0/16', false, false],
    ['0.0.0.0/0', '192.168.0.0/16', true, true],
    ['fd00::/8', 'fd00:10:244:1::/64', true, true],
    ['fd00:10:244:1::/64', 'fd00:10:244:2::/64', false, false],
    ['10.0.0.0/8', '::/0', false, false],
  ]
  it.each(cases)('%s vs %s: overlap=%s, contains=%s', (a, b, overlap, contains) => {
    expect(cidrsOverlap(parseCidr(a), parseCidr(b))).toBe(overlap)
    expect(cidrsOverlap(parseCidr(b), parseCidr(a))).toBe(overlap)
    expect(cidrContainsCidr(parseCidr(a), parseCidr(b))).toBe(contains)
  })
})

describe('compareCidr / cidrLast', () => {
  it('orders IPv4 first, then by address, wider first', () => {
    const sorted = ['fd00::/64', '10.244.1.0/24', '10.244.0.0/16', '10.244.0.0/24', '9.0.0.0/8']
      .map(parseCidr)
      .sort(compareCidr)
      .map(formatCidr)
    expect(sorted).toEqual(['9.0.0.0/8', '10.244.0.0/16', '10.244.0.0/24', '10.244.1.0/24', 'fd00::/64'])
  })

  const lasts: readonly [cidr: string, last: number | bigint][] = [
    ['10.244.1.0/24', 0x0af401ff],
    ['0.0.0.0/0', 0xffffffff],
    ['10.244.1.7/32', 0x0af40107],
    ['fd00::/112', 0xfd00_0000_0000_0000_0000_0000_0000_ffffn],
  ]
  it.each(lasts)('last address of %s', (cidr, last) => {
    expect(cidrLast(parseCidr(cidr))).toBe(last)
  })
})
