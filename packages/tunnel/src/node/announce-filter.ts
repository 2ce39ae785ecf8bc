import type { Multiaddr } from '@multiformats/multiaddr'
import { unmapIPv4 } from '../net/ip-bytes.ts'
import { createIpRangeSet, type IpRangeSet } from '../net/ip-range-set.ts'

/**
 * Addresses other sites cannot reach: loopback, RFC 1918, CGNAT, link-local, ULA, documentation and reserved
 * ranges. Our own list, not @libp2p/utils' isPrivate(): the lab's 203.0.113.0/24 must be able to count as
 * public through `publicRanges`, and real operators may run sites over 100.64/10 or 10/8 the same way.
 */
const NON_PUBLIC = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
  '2001:db8::/32',
  'ff00::/8',
]
const nonPublic = createIpRangeSet(NON_PUBLIC)
const IP_CODES = new Set(['ip4', 'ip6'])

/** True when `ip` may be offered to other sites: inside `publicRanges`, or outside every non-public range. */
export function isPublicAddress(ip: string, publicRanges: IpRangeSet): boolean {
  const plain = unmapIPv4(ip)
  return publicRanges.has(plain) || !nonPublic.has(plain)
}

/**
 * libp2p `addresses.announceFilter`: keeps relay (`/p2p-circuit`) and DNS addresses, and IP addresses that are
 * public by `isPublicAddress`. Loopback and LAN addresses are never announced: a peer on an overlapping LAN would
 * dial them and reach someone else (research/libp2p-lab.md S10). Same-LAN peers find each other through the
 * InternalIPs on their Node objects instead. Throws PodlinkError INVALID_CIDR for a bad range.
 */
export function createAnnounceFilter(publicRanges: readonly string[]): (addrs: Multiaddr[]) => Multiaddr[] {
  const ranges = createIpRangeSet(publicRanges)
  return (addrs) =>
    addrs.filter((ma) => {
      const parts = ma.getComponents()
      if (parts.some((c) => c.name === 'p2p-circuit')) return true
      const first = parts[0]
      if (first === undefined) return false
      if (first.name.startsWith('dns')) return true
      if (!IP_CODES.has(first.name) || first.value === undefined) return false
      return isPublicAddress(first.value, ranges)
    })
}
