import { PodlinkError } from '../errors.ts'

/**
 * A parsed IP address as plain data. IPv4 is an unsigned 32-bit number and IPv6 a 128-bit
 * bigint, so comparisons, masks and hash-map keys cost no string work on hot paths.
 */
export type IpAddress = IpV4Address | IpV6Address

export interface IpV4Address {
  readonly family: 4
  /** Unsigned, 0 .. 2^32 - 1. */
  readonly value: number
}

export interface IpV6Address {
  readonly family: 6
  /** Unsigned, 0 .. 2^128 - 1. */
  readonly value: bigint
}

const V4_MAPPED_PREFIX = 0xffffn
const U32 = 0xffffffffn

// One scratch buffer for the v6 parser: parsing is synchronous, so it is never shared.
const groups = new Uint16Array(8)

/**
 * Parses dotted-quad IPv4 between `start` and `end`; returns -1 when malformed.
 * Octets with leading zeros are refused, as Go's net.ParseIP does, because some tools read them as octal.
 */
function parseV4Value(s: string, start: number, end: number): number {
  let value = 0
  let octet = 0
  let digits = 0
  let dots = 0
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i)
    if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1
      octet = octet * 10 + (c - 48)
      digits++
      if (octet > 255) return -1
    } else if (c === 46) {
      if (digits === 0 || dots === 3) return -1
      value = value * 256 + octet
      dots++
      octet = 0
      digits = 0
    } else {
      return -1
    }
  }
  if (dots !== 3 || digits === 0) return -1
  return value * 256 + octet
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  return -1
}

/** Parses IPv6 text (with `::` and an optional dotted IPv4 tail); returns null when malformed. Zones are refused. */
function parseV6Value(s: string, start: number, end: number): bigint | null {
  let n = 0
  let gap = -1
  let i = start
  if (end - start < 2) return null
  if (s.charCodeAt(i) === 58) {
    if (s.charCodeAt(i + 1) !== 58) return null
    gap = 0
    i += 2
  }
  while (i < end) {
    let j = i
    let v = 0
    for (; j < end; j++) {
      const h = hexDigit(s.charCodeAt(j))
      if (h < 0) break
      v = v * 16 + h
    }
    if (j < end && s.charCodeAt(j) === 46) {
      // A dotted IPv4 tail fills the last two groups.
      if (n > 6) return null
      const v4 = parseV4Value(s, i, end)
      if (v4 < 0) return null
      groups[n++] = v4 >>> 16
      groups[n++] = v4 & 0xffff
      break
    }
    if (j === i || j - i > 4 || n === 8) return null
    groups[n++] = v
    if (j === end) break
    if (s.charCodeAt(j) !== 58) return null
    j++
    if (j < end && s.charCodeAt(j) === 58) {
      if (gap !== -1) return null
      gap = n
      j++
    } else if (j === end) {
      return null
    }
    i = j
  }
  if (gap === -1 ? n !== 8 : n > 7) return null
  if (gap !== -1) {
    const tail = n - gap
    const zeros = 8 - n
    for (let k = tail - 1; k >= 0; k--) groups[gap + zeros + k] = groups[gap + k]!
    groups.fill(0, gap, gap + zeros)
  }
  const w0 = groups[0]! * 0x10000 + groups[1]!
  const w1 = groups[2]! * 0x10000 + groups[3]!
  const w2 = groups[4]! * 0x10000 + groups[5]!
  const w3 = groups[6]! * 0x10000 + groups[7]!
  return (BigInt(w0) << 96n) | (BigInt(w1) << 64n) | (BigInt(w2) << 32n) | BigInt(w3)
}

/** Parses IPv4 or IPv6 text; returns null when it is neither. Never throws: meant for hot paths. */
export function tryParseIp(text: string): IpAddress | null {
  if (text.indexOf(':') === -1) {
    const value = parseV4Value(text, 0, text.length)
    return value < 0 ? null : { family: 4, value }
  }
  const value = parseV6Value(text, 0, text.length)
  return value === null ? null : { family: 6, value }
}

/** Parses IPv4 or IPv6 text, or throws `ERR_INVALID_IP` naming the input. */
export function parseIp(text: string): IpAddress {
  const ip = tryParseIp(text)
  if (ip === null) {
    throw new PodlinkError(
      'ERR_INVALID_IP',
      `Cannot parse IP address ${JSON.stringify(text)} as it is neither IPv4 nor IPv6`,
    )
  }
  return ip
}

/** True for `::ffff:a.b.c.d`, the form a dual-stack socket reports IPv4 peers in. */
export function isV4Mapped(ip: IpAddress): boolean {
  return ip.family === 6 && ip.value >> 32n === V4_MAPPED_PREFIX
}

/** The IPv4 address behind a v4-mapped IPv6 address; any other address is returned unchanged. */
export function unmapIp(ip: IpAddress): IpAddress {
  if (ip.family === 6 && ip.value >> 32n === V4_MAPPED_PREFIX) return { family: 4, value: Number(ip.value & U32) }
  return ip
}

export function formatV4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`
}

/** RFC 5952 text: lowercase, the longest run (first on a tie) of two or more zero groups as `::`. */
export function formatV6(value: bigint): string {
  if (value >> 32n === V4_MAPPED_PREFIX) return `::ffff:${formatV4(Number(value & U32))}`
  const words = [Number(value >> 96n), Number((value >> 64n) & U32), Number((value >> 32n) & U32), Number(value & U32)]
  for (let w = 0; w < 4; w++) {
    groups[w * 2] = words[w]! >>> 16
    groups[w * 2 + 1] = words[w]! & 0xffff
  }
  let bestStart = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  if (bestStart === -1) return Array.from(groups, (g) => g.toString(16)).join(':')
  const head = Array.from(groups.subarray(0, bestStart), (g) => g.toString(16)).join(':')
  const tail = Array.from(groups.subarray(bestStart + bestLen), (g) => g.toString(16)).join(':')
  return `${head}::${tail}`
}

/** Canonical text: dotted quad for IPv4, RFC 5952 for IPv6. `formatIp(parseIp(x))` is stable. */
export function formatIp(ip: IpAddress): string {
  return ip.family === 4 ? formatV4(ip.value) : formatV6(ip.value)
}

/** Total order: every IPv4 address before every IPv6 address, then numerically. */
export function compareIp(a: IpAddress, b: IpAddress): number {
  if (a.family !== b.family) return a.family - b.family
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0
}
