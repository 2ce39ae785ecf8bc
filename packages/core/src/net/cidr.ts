import { PodlinkError } from '../errors.ts'
import type { IpFamily } from '../types.ts'
import { formatV4, formatV6, type IpAddress, tryParseIp, unmapIp } from './ip-address.ts'

/**
 * A validated network: `network` has no host bits set, so two equal networks are equal field by field
 * and `formatCidr` gives one canonical text for each.
 */
export type Cidr = CidrV4 | CidrV6

export interface CidrV4 {
  readonly family: 4
  readonly network: number
  readonly prefixLength: number
}

export interface CidrV6 {
  readonly family: 6
  readonly network: bigint
  readonly prefixLength: number
}

/** `V4_MASKS[n]` is the netmask of a /n, as an unsigned number. */
export const V4_MASKS: readonly number[] = Array.from({ length: 33 }, (_, n) =>
  n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0,
)
const ALL_V6 = (1n << 128n) - 1n
/** `V6_MASKS[n]` is the netmask of a /n. */
export const V6_MASKS: readonly bigint[] = Array.from({ length: 129 }, (_, n) => (ALL_V6 << BigInt(128 - n)) & ALL_V6)

function invalid(text: string, reason: string): PodlinkError {
  return new PodlinkError('ERR_INVALID_CIDR', `Cannot parse CIDR ${JSON.stringify(text)} as ${reason}`)
}

/** Reads a decimal prefix length without leading zeros; -1 when malformed. */
function parsePrefixLength(text: string, start: number): number {
  const end = text.length
  if (start === end || end - start > 3) return -1
  if (text.charCodeAt(start) === 48 && end - start > 1) return -1
  let n = 0
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c < 48 || c > 57) return -1
    n = n * 10 + (c - 48)
  }
  return n
}

/**
 * Parses `address/prefix` strictly: the address must parse, the prefix must fit the family, and no host
 * bits may be set (`10.244.1.5/24` is refused, as Kubernetes refuses it in `spec.podCIDR`).
 * Throws `ERR_INVALID_CIDR` with a message that names the input and the reason.
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/')
  if (slash === -1) throw invalid(text, 'a network: it has no /prefix-length')
  const ip = tryParseIp(text.slice(0, slash))
  if (ip === null) throw invalid(text, `a network: ${JSON.stringify(text.slice(0, slash))} is not an IP address`)
  const prefixLength = parsePrefixLength(text, slash + 1)
  const max = ip.family === 4 ? 32 : 128
  if (prefixLength < 0 || prefixLength > max) {
    throw invalid(text, `a network: the prefix length must be a whole number from 0 to ${max}`)
  }
  if (ip.family === 4) {
    const network = (ip.value & V4_MASKS[prefixLength]!) >>> 0
    if (network !== ip.value) {
      throw invalid(text, `a network: host bits are set (the network is ${formatV4(network)}/${prefixLength})`)
    }
    return { family: 4, network, prefixLength }
  }
  const network = ip.value & V6_MASKS[prefixLength]!
  if (network !== ip.value) {
    throw invalid(text, `a network: host bits are set (the network is ${formatV6(network)}/${prefixLength})`)
  }
  return { family: 6, network, prefixLength }
}

/** Like `parseCidr`, but returns null instead of throwing. */
export function tryParseCidr(text: string): Cidr | null {
  try {
    return parseCidr(text)
  } catch {
    return null
  }
}

/** Canonical text (`10.244.1.0/24`, `fd00:10:244:1::/64`): equal networks give equal strings. */
export function formatCidr(cidr: Cidr): string {
  return cidr.family === 4
    ? `${formatV4(cidr.network)}/${cidr.prefixLength}`
    : `${formatV6(cidr.network)}/${cidr.prefixLength}`
}

export function cidrFamily(cidr: Cidr): IpFamily {
  return cidr.family
}

/** True when `ip` is inside `cidr`. A v4-mapped IPv6 address counts as its IPv4 address. */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  const addr = ip.family === 6 && cidr.family === 4 ? unmapIp(ip) : ip
  if (addr.family === 4) {
    return cidr.family === 4 && (addr.value & V4_MASKS[cidr.prefixLength]!) >>> 0 === cidr.network
  }
  return cidr.family === 6 && (addr.value & V6_MASKS[cidr.prefixLength]!) === cidr.network
}

/** True when every address of `inner` is in `outer` (a network contains itself). */
export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || outer.prefixLength > inner.prefixLength) return false
  if (outer.family === 4) return ((inner.network as number) & V4_MASKS[outer.prefixLength]!) >>> 0 === outer.network
  return ((inner.network as bigint) & V6_MASKS[outer.prefixLength]!) === outer.network
}

/** True when the two networks share any address. Networks either nest or are disjoint, so this is containment. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.prefixLength <= b.prefixLength ? cidrContainsCidr(a, b) : cidrContainsCidr(b, a)
}

/** Total order: IPv4 before IPv6, then by network address, then wider (shorter prefix) first. */
export function compareCidr(a: Cidr, b: Cidr): number {
  if (a.family !== b.family) return a.family - b.family
  if (a.network !== b.network) return a.network < b.network ? -1 : 1
  return a.prefixLength - b.prefixLength
}

/** The last address of the network, as a number (IPv4) or bigint (IPv6). */
export function cidrLast(cidr: Cidr): number | bigint {
  return cidr.family === 4
    ? (cidr.network | ~V4_MASKS[cidr.prefixLength]!) >>> 0
    : cidr.network | (~V6_MASKS[cidr.prefixLength]! & ALL_V6)
}
