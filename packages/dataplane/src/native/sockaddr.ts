import type { IpFamily } from '@podlink/core'
import { parseIp } from '../rules/ip-address.ts'
import { AF_INET, AF_INET6 } from './libc.ts'

export interface SocketAddress {
  readonly family: IpFamily
  readonly address: string
  readonly port: number
}

/** `struct sockaddr_in` (16 bytes) or `struct sockaddr_in6` (28 bytes) for bind(). */
export function encodeSockaddr(family: IpFamily, address: string, port: number): Buffer {
  const ip = parseIp(address)
  if (!ip || ip.family !== family) throw new TypeError(`not an IPv${family} address: ${address}`)
  const b = Buffer.alloc(family === 4 ? 16 : 28)
  b.writeUInt16LE(family === 4 ? AF_INET : AF_INET6, 0)
  b.writeUInt16BE(port, 2)
  if (family === 4) b.writeUInt32BE(Number(ip.value), 4)
  else for (let i = 0; i < 8; i++) b.writeUInt16BE(Number((ip.value >> BigInt(112 - 16 * i)) & 0xffffn), 8 + 2 * i)
  return b
}

/** Reads a sockaddr_in / sockaddr_in6 at `off`; null for any other family. IPv4-mapped IPv6 is unmapped. */
export function parseSockaddr(b: Uint8Array, off = 0): SocketAddress | null {
  const v = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  const fam = v.readUInt16LE(off)
  const port = v.readUInt16BE(off + 2)
  if (fam === AF_INET) return { family: 4, address: `${v[off + 4]}.${v[off + 5]}.${v[off + 6]}.${v[off + 7]}`, port }
  if (fam !== AF_INET6) return null
  const a = v.subarray(off + 8, off + 24)
  if (a.subarray(0, 10).every((x) => x === 0) && a[10] === 0xff && a[11] === 0xff) {
    return { family: 4, address: `${a[12]}.${a[13]}.${a[14]}.${a[15]}`, port }
  }
  return { family: 6, address: formatIpv6(a), port }
}

/** RFC 5952 text: lower case, the longest run of two or more zero groups as `::`. */
export function formatIpv6(a: Uint8Array): string {
  const g: number[] = []
  for (let i = 0; i < 8; i++) g.push(((a[2 * i] ?? 0) << 8) | (a[2 * i + 1] ?? 0))
  let best = -1
  let bestLen = 0
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen && j - i >= 2) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  const h = (x: number) => x.toString(16)
  if (best < 0) return g.map(h).join(':')
  return `${g.slice(0, best).map(h).join(':')}::${g
    .slice(best + bestLen)
    .map(h)
    .join(':')}`
}
