import { isIPv4, isIPv6 } from 'node:net'
import type { IpFamily } from '@podlink/core'

/** An address as a number, so that containment is two comparisons. */
export interface ParsedIp {
  readonly family: IpFamily
  readonly value: bigint
}

export interface ParsedCidr {
  readonly family: IpFamily
  readonly base: bigint
  readonly prefix: number
}

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 }

/** Parses a literal IPv4 or IPv6 address (an IPv4-mapped IPv6 address stays IPv6); null when it is not one. */
export function parseIp(text: string): ParsedIp | null {
  if (isIPv4(text)) {
    let v = 0n
    for (const part of text.split('.')) v = (v << 8n) | BigInt(Number(part))
    return { family: 4, value: v }
  }
  if (!isIPv6(text)) return null
  let s = text
  let tail: bigint[] = []
  const lastColon = s.lastIndexOf(':')
  if (s.slice(lastColon + 1).includes('.')) {
    const v4 = parseIp(s.slice(lastColon + 1))
    if (v4 === null) return null
    tail = [v4.value >> 16n, v4.value & 0xffffn]
    s = s.slice(0, lastColon + 1) + '0'
  }
  const [head = '', rest] = s.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = rest === undefined || rest === '' ? [] : rest.split(':')
  if (tail.length) (right.length ? right : left).pop()
  const groups = [...left.map((g) => BigInt(`0x${g}`))]
  const rightGroups = [...right.map((g) => BigInt(`0x${g}`)), ...tail]
  const fill = rest === undefined ? 0 : 8 - groups.length - rightGroups.length
  for (let i = 0; i < fill; i++) groups.push(0n)
  groups.push(...rightGroups)
  let v = 0n
  for (const g of groups) v = (v << 16n) | g
  return { family: 6, value: v }
}

/** Parses `a.b.c.d/n` or `x::/n` (a bare address is a host route); null when malformed. */
export function parseCidr(text: string): ParsedCidr | null {
  const [addr = '', len] = text.split('/')
  const ip = parseIp(addr)
  if (ip === null) return null
  const bits = BITS[ip.family]
  const prefix = len === undefined ? bits : Number(len)
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) return null
  const hostBits = BigInt(bits - prefix)
  return { family: ip.family, base: (ip.value >> hostBits) << hostBits, prefix }
}

export function cidrContains(cidr: ParsedCidr, ip: ParsedIp): boolean {
  if (cidr.family !== ip.family) return false
  const hostBits = BigInt(BITS[cidr.family] - cidr.prefix)
  return ip.value >> hostBits === cidr.base >> hostBits
}

/** The family of a literal address, or null. */
export function familyOf(address: string): IpFamily | null {
  if (isIPv4(address)) return 4
  if (isIPv6(address)) return 6
  return null
}

/** `::ffff:10.0.0.1` -> `10.0.0.1`: dual-stack sockets report IPv4 peers in mapped form. */
export function unmapIpv4(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address
}
