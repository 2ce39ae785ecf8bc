import { describe, expect, it } from 'vitest'
import { hasCode } from '../errors.ts'
import { formatCidr, parseCidr } from './cidr.ts'
import { CidrTable } from './cidr-table.ts'
import { parseIp } from './ip-address.ts'

function table(): CidrTable<string> {
  return new CidrTable<string>()
    .set('10.0.0.0/8', 'ten')
    .set('10.244.0.0/16', 'cluster')
    .set('10.244.1.0/24', 'node-a')
    .set('10.244.2.0/24', 'node-b')
    .set('10.244.2.9/32', 'pod')
    .set('0.0.0.0/0', 'default4')
    .set('fd00:10:244::/48', 'cluster6')
    .set('fd00:10:244:1::/64', 'node-a6')
}

describe('CidrTable.lookup (longest prefix match)', () => {
  const cases: readonly [ip: string, expected: string | undefined][] = [
    ['10.244.1.7', 'node-a'],
    ['10.244.2.9', 'pod'],
    ['10.244.2.10', 'node-b'],
    ['10.244.3.1', 'cluster'],
    ['10.1.1.1', 'ten'],
    ['192.168.1.10', 'default4'],
    ['::ffff:10.244.1.7', 'node-a'],
    ['fd00:10:244:1::5', 'node-a6'],
    ['fd00:10:244:9::5', 'cluster6'],
    ['fd00:10:245::1', undefined],
    ['not an ip', undefined],
  ]
  it.each(cases)('%s -> %s', (ip, expected) => {
    const t = table()
    expect(t.lookup(ip)).toBe(expected)
    const parsed = expected === undefined && ip === 'not an ip' ? null : parseIp(ip)
    if (parsed !== null) expect(t.lookup(parsed)).toBe(expected)
  })

  const covering: readonly [network: string, expected: string[]][] = [
    ['10.244.2.9/32', ['default4', 'ten', 'cluster', 'node-b', 'pod']],
    ['10.244.2.0/24', ['default4', 'ten', 'cluster', 'node-b']],
    ['10.244.0.0/15', ['default4', 'ten']],
    ['fd00:10:244:1::/64', ['cluster6', 'node-a6']],
    ['fd00::/8', []],
  ]
  it.each(covering)('networks covering %s, widest first: %j', (network, expected) => {
    expect(
      table()
        .covering(network)
        .map((e) => e.value),
    ).toEqual(expected)
  })

  it('returns the matching network with the value', () => {
    const hit = table().lookupEntry('10.244.2.10')
    expect(hit && formatCidr(hit.cidr)).toBe('10.244.2.0/24')
  })
})

describe('CidrTable maintenance', () => {
  it('replaces, gets exactly, deletes and counts', () => {
    const t = table()
    expect(t.size).toBe(8)
    t.set('10.244.1.0/24', 'node-a2')
    expect(t.size).toBe(8)
    expect(t.get('10.244.1.0/24')).toBe('node-a2')
    expect(t.get('10.244.1.0/25')).toBeUndefined()
    expect(t.delete('10.244.2.9/32')).toBe(true)
    expect(t.delete('10.244.2.9/32')).toBe(false)
    expect(t.lookup('10.244.2.9')).toBe('node-b')
    expect(t.delete(parseCidr('0.0.0.0/0'))).toBe(true)
    expect(t.lookup('192.168.1.10')).toBeUndefined()
    expect(t.size).toBe(6)
    expect([...t.entries()].map((e) => formatCidr(e.cidr))).toEqual([
      '10.244.1.0/24',
      '10.244.2.0/24',
      '10.244.0.0/16',
      '10.0.0.0/8',
      'fd00:10:244:1::/64',
      'fd00:10:244::/48',
    ])
    t.clear()
    expect(t.size).toBe(0)
    expect(t.lookup('10.244.1.7')).toBeUndefined()
  })

  it('refuses invalid network text with ERR_INVALID_CIDR', () => {
    let thrown: unknown
    try {
      new CidrTable<number>().set('10.244.1.1/24', 1)
    } catch (err) {
      thrown = err
    }
    expect(hasCode(thrown, 'ERR_INVALID_CIDR')).toBe(true)
  })

  it('agrees with a linear scan on thousands of random networks', () => {
    let seed = 7
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0
      return seed
    }
    const t = new CidrTable<number>()
    const nets: { network: number; len: number; id: number }[] = []
    for (let id = 0; id < 5000; id++) {
      const len = 8 + (rand() % 25)
      const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0
      const network = ((rand() & mask) >>> 0) | 0x0a000000
      const masked = (network & mask) >>> 0
      t.set({ family: 4, network: masked, prefixLength: len }, id)
      nets.push({ network: masked, len, id })
    }
    for (let probe = 0; probe < 2000; probe++) {
      const ip = (rand() | 0x0a000000) >>> 0
      let best: { len: number; id: number } | undefined
      for (const n of nets) {
        const mask = n.len === 0 ? 0 : (0xffffffff << (32 - n.len)) >>> 0
        if ((ip & mask) >>> 0 === n.network && (best === undefined || n.len >= best.len)) best = n
      }
      expect(t.lookup({ family: 4, value: ip })).toBe(best?.id)
    }
  })
})
