import { BlockList } from 'node:net'
import { PodlinkError } from '@podlink/core'
import { ipFamily, unmapIPv4 } from './ip-bytes.ts'

/** A set of CIDRs (v4 and v6 mixed) answering "is this address inside any of them". */
export interface IpRangeSet {
  has(ip: string): boolean
}

/**
 * Build a range set with Node's BlockList (native prefix matching). A bare address counts as a /32 or /128.
 * Throws PodlinkError `INVALID_CIDR` on the first entry that is not a CIDR: a policy with a typo must not
 * silently admit or refuse less than the operator wrote.
 */
export function createIpRangeSet(cidrs: Iterable<string>): IpRangeSet {
  const list = new BlockList()
  for (const cidr of cidrs) {
    const [addr = '', lenText] = cidr.split('/')
    const ip = unmapIPv4(addr)
    const family = ipFamily(ip)
    const max = family === 4 ? 32 : 128
    const len = lenText === undefined ? max : /^\d{1,3}$/.test(lenText) ? Number(lenText) : -1
    if (family === null || len < 0 || len > max) {
      throw new PodlinkError(
        'INVALID_CIDR',
        `Cannot use ${JSON.stringify(cidr)} as a CIDR: expected a.b.c.d/n or x::y/n`,
      )
    }
    list.addSubnet(ip, len, family === 4 ? 'ipv4' : 'ipv6')
  }
  return {
    has(ip: string): boolean {
      const plain = unmapIPv4(ip)
      const family = ipFamily(plain)
      if (family === null) return false
      return list.check(plain, family === 4 ? 'ipv4' : 'ipv6')
    },
  }
}
