/**
 * Address arithmetic the lab needs to lay out a topology: parse, contain, overlap, offset.
 * BigInt keeps one code path for IPv4 and IPv6; none of this is on a hot path.
 */
import { isIP } from 'node:net'

export interface Cidr {
  readonly family: 4 | 6
  readonly base: bigint
  readonly prefix: number
  readonly text: string
}

const bits = (family: 4 | 6): number => (family === 4 ? 32 : 128)

export function parseIp(text: string): { family: 4 | 6; value: bigint } | null {
  const family = isIP(text)
  if (family === 4) {
    const value = text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n)
    return { family, value }
  }
  if (family === 6) {
    const [head = '', tail] = text.split('::') as [string, string?]
    const groups = (s: string): string[] => (s === '' ? [] : s.split(':'))
    let parts = groups(head)
    let rest = tail === undefined ? [] : groups(tail)
    const lastOf = (arr: string[]): string | undefined => arr[arr.length - 1]
    const expandV4 = (arr: string[]): string[] => {
      const last = lastOf(arr)
      if (last?.includes('.')) {
        const v4 = parseIp(last)?.value ?? 0n
        return [...arr.slice(0, -1), ((v4 >> 16n) & 0xffffn).toString(16), (v4 & 0xffffn).toString(16)]
      }
      return arr
    }
    if (tail === undefined) parts = expandV4(parts)
    else rest = expandV4(rest)
    const fill = tail === undefined ? [] : new Array<string>(8 - parts.length - rest.length).fill('0')
    const all = [...parts, ...fill, ...rest]
    const value = all.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n)
    return { family, value }
  }
  return null
}

export function formatIp(family: 4 | 6, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => ((value >> s) & 0xffn).toString()).join('.')
  }
  const groups: string[] = []
  for (let i = 7; i >= 0; i--) groups.push(((value >> BigInt(i * 16)) & 0xffffn).toString(16))
  // Compress the longest run of zero groups, as RFC 5952 asks.
  let best = { start: -1, len: 0 }
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === '0') j++
    if (j - i > best.len && j - i > 1) best = { start: i, len: j - i }
    i = j
  }
  if (best.start < 0) return groups.join(':')
  return `${groups.slice(0, best.start).join(':')}::${groups.slice(best.start + best.len).join(':')}`
}

/** Parses `a.b.c.d/n` or `x::/n`; returns an error string instead of throwing, for validation messages. */
export function parseCidr(text: string): Cidr | string {
  if (typeof text !== 'string') return `${JSON.stringify(text)} is not a CIDR`
  const [ip, len, extra] = text.split('/')
  if (ip === undefined || len === undefined || extra !== undefined || !/^\d{1,3}$/.test(len)) {
    return `${text} is not a CIDR (want address/prefix)`
  }
  const addr = parseIp(ip)
  if (!addr) return `${text} is not a CIDR: ${ip} is not an IP address`
  const prefix = Number(len)
  if (prefix > bits(addr.family)) return `${text} has a prefix longer than ${bits(addr.family)}`
  const hostMask = (1n << BigInt(bits(addr.family) - prefix)) - 1n
  if ((addr.value & hostMask) !== 0n) return `${text} has host bits set`
  return { family: addr.family, base: addr.value, prefix, text }
}

export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt(bits(c.family) - c.prefix)
}

export function cidrContains(c: Cidr, ip: string): boolean {
  const a = parseIp(ip)
  return a !== null && a.family === c.family && a.value >= c.base && a.value < c.base + cidrSize(c)
}

export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.base < b.base + cidrSize(b) && b.base < a.base + cidrSize(a)
}

/** The address `offset` places into the CIDR (offset 1 is the first host). */
export function cidrHost(c: Cidr, offset: number): string {
  return formatIp(c.family, c.base + BigInt(offset))
}

export function isNetworkOrBroadcast(c: Cidr, ip: string): boolean {
  const a = parseIp(ip)
  if (a?.family !== 4 || c.prefix >= 31) return false
  return a.value === c.base || a.value === c.base + cidrSize(c) - 1n
}
