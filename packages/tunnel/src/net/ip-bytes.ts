import { isIPv4, isIPv6 } from 'node:net'
import type { IpFamily } from '@podlink/core'

/**
 * IP text <-> bytes, without allocation-heavy helpers: the flow codec calls these per stream.
 * Guarantees: `ipToBytes` returns null for anything that is not a literal IPv4/IPv6 address (no zone ids);
 * `bytesToIp` always returns the canonical text (dotted quad; RFC 5952 compressed lower-case IPv6).
 */

export function ipFamily(ip: string): IpFamily | null {
  if (isIPv4(ip)) return 4
  if (isIPv6(ip) && !ip.includes('%')) return 6
  return null
}

export function ipToBytes(ip: string): Uint8Array | null {
  const family = ipFamily(ip)
  if (family === 4) return v4ToBytes(ip)
  if (family === 6) return v6ToBytes(ip)
  return null
}

function v4ToBytes(ip: string): Uint8Array {
  const out = new Uint8Array(4)
  const parts = ip.split('.')
  for (let i = 0; i < 4; i++) out[i] = Number(parts[i])
  return out
}

function v6ToBytes(ip: string): Uint8Array {
  const out = new Uint8Array(16)
  let text = ip
  // An embedded dotted quad (::ffff:1.2.3.4) becomes two hex groups.
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  if (tail.includes('.')) {
    const v4 = v4ToBytes(tail)
    text = `${text.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined]
  const headGroups = head === '' || head === undefined ? [] : head.split(':')
  const tailGroups = rest === undefined || rest === '' ? [] : rest.split(':')
  const groups =
    rest === undefined
      ? headGroups
      : [...headGroups, ...new Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups]
  for (let i = 0; i < 8; i++) {
    const g = Number.parseInt(groups[i] ?? '0', 16)
    out[i * 2] = g >> 8
    out[i * 2 + 1] = g & 0xff
  }
  return out
}

export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`
  const groups: number[] = []
  for (let i = 0; i < 8; i++) groups.push((bytes[i * 2]! << 8) | bytes[i * 2 + 1]!)
  // RFC 5952: compress the longest run (>= 2) of zero groups, the first one on ties.
  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart < 0) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`
}

/** `::ffff:a.b.c.d` -> `a.b.c.d`; anything else unchanged. Policy checks run on the unmapped form. */
export function unmapIPv4(ip: string): string {
  const lower = ip.toLowerCase()
  if (lower.startsWith('::ffff:') && ipFamily(lower) === 6) {
    const b = v6ToBytes(lower)
    let mapped = true
    for (let i = 0; i < 10; i++) if (b[i] !== 0) mapped = false
    if (mapped && b[10] === 0xff && b[11] === 0xff) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`
  }
  return ip
}
