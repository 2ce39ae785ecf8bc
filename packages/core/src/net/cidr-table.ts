import { type Cidr, parseCidr, V4_MASKS } from './cidr.ts'
import { type IpAddress, tryParseIp } from './ip-address.ts'

export interface CidrTableEntry<T> {
  readonly cidr: Cidr
  readonly value: T
}

const V4_MAPPED_PREFIX = 0xffffn
const U32 = 0xffffffffn
/**
 * IPv6 keys are the network shifted down to its prefix bits (`network >> (128 - length)`), not the masked
 * network: V8 hashes a bigint by its least significant 64 bits only, and a masked /64 has those all zero,
 * which put every /64 in one hash bucket (5,000 inserts took 2 s). Shifted, the bits that tell networks
 * of one length apart are the low ones.
 */
const V6_SHIFTS: readonly bigint[] = Array.from({ length: 129 }, (_, n) => BigInt(128 - n))

/**
 * A longest-prefix-match table for IPv4 and IPv6 networks.
 *
 * One hash map per prefix length, keyed by the masked network, and the list of lengths in use, longest
 * first: a lookup costs one mask and one map probe per distinct prefix length present (a cluster
 * usually has one or two, e.g. /24 and /64), whatever the number of entries. Inserts and deletes are O(1)
 * plus a re-sort of at most 129 lengths when a length appears or disappears.
 */
export class CidrTable<T> {
  readonly #v4: (Map<number, CidrTableEntry<T>> | undefined)[] = new Array(33)
  readonly #v6: (Map<bigint, CidrTableEntry<T>> | undefined)[] = new Array(129)
  #v4Lengths: number[] = []
  #v6Lengths: number[] = []
  #size = 0

  get size(): number {
    return this.#size
  }

  /** Inserts or replaces the value for exactly this network. Accepts text (parsed strictly) or a parsed Cidr. */
  set(network: Cidr | string, value: T): this {
    const cidr = typeof network === 'string' ? parseCidr(network) : network
    const entry: CidrTableEntry<T> = { cidr, value }
    if (cidr.family === 4) {
      let map = this.#v4[cidr.prefixLength]
      if (map === undefined) {
        map = new Map()
        this.#v4[cidr.prefixLength] = map
        this.#v4Lengths = lengthsInUse(this.#v4)
      }
      const before = map.size
      map.set(cidr.network, entry)
      this.#size += map.size - before
    } else {
      let map = this.#v6[cidr.prefixLength]
      if (map === undefined) {
        map = new Map()
        this.#v6[cidr.prefixLength] = map
        this.#v6Lengths = lengthsInUse(this.#v6)
      }
      const before = map.size
      map.set(cidr.network >> V6_SHIFTS[cidr.prefixLength]!, entry)
      this.#size += map.size - before
    }
    return this
  }

  /** The value stored for exactly this network (no prefix matching). */
  get(network: Cidr | string): T | undefined {
    const cidr = typeof network === 'string' ? parseCidr(network) : network
    return cidr.family === 4
      ? this.#v4[cidr.prefixLength]?.get(cidr.network)?.value
      : this.#v6[cidr.prefixLength]?.get(cidr.network >> V6_SHIFTS[cidr.prefixLength]!)?.value
  }

  /** Removes exactly this network; true when it was present. */
  delete(network: Cidr | string): boolean {
    const cidr = typeof network === 'string' ? parseCidr(network) : network
    const maps: (Map<number | bigint, CidrTableEntry<T>> | undefined)[] = cidr.family === 4 ? this.#v4 : this.#v6
    const map = maps[cidr.prefixLength]
    const key = cidr.family === 4 ? cidr.network : cidr.network >> V6_SHIFTS[cidr.prefixLength]!
    if (map === undefined || !map.delete(key)) return false
    this.#size--
    if (map.size === 0) {
      maps[cidr.prefixLength] = undefined
      if (cidr.family === 4) this.#v4Lengths = lengthsInUse(this.#v4)
      else this.#v6Lengths = lengthsInUse(this.#v6)
    }
    return true
  }

  /**
   * The most specific network containing `ip`, or undefined. Unparseable text finds nothing.
   * A v4-mapped IPv6 address (`::ffff:10.0.0.1`) is looked up as its IPv4 address.
   */
  lookupEntry(ip: IpAddress | string): CidrTableEntry<T> | undefined {
    const addr = typeof ip === 'string' ? tryParseIp(ip) : ip
    if (addr === null) return undefined
    if (addr.family === 4) return this.#lookupV4(addr.value)
    if (addr.value >> 32n === V4_MAPPED_PREFIX) return this.#lookupV4(Number(addr.value & U32))
    const lengths = this.#v6Lengths
    for (let i = 0; i < lengths.length; i++) {
      const len = lengths[i]!
      const hit = this.#v6[len]!.get(addr.value >> V6_SHIFTS[len]!)
      if (hit !== undefined) return hit
    }
    return undefined
  }

  /** The value of the most specific network containing `ip`, or undefined. */
  lookup(ip: IpAddress | string): T | undefined {
    return this.lookupEntry(ip)?.value
  }

  /** Every entry whose network contains `network` (itself included), widest first. */
  covering(network: Cidr | string): CidrTableEntry<T>[] {
    const cidr = typeof network === 'string' ? parseCidr(network) : network
    const found: CidrTableEntry<T>[] = []
    if (cidr.family === 4) {
      for (let i = this.#v4Lengths.length - 1; i >= 0; i--) {
        const len = this.#v4Lengths[i]!
        if (len > cidr.prefixLength) break
        const hit = this.#v4[len]!.get((cidr.network & V4_MASKS[len]!) >>> 0)
        if (hit !== undefined) found.push(hit)
      }
    } else {
      for (let i = this.#v6Lengths.length - 1; i >= 0; i--) {
        const len = this.#v6Lengths[i]!
        if (len > cidr.prefixLength) break
        const hit = this.#v6[len]!.get(cidr.network >> V6_SHIFTS[len]!)
        if (hit !== undefined) found.push(hit)
      }
    }
    return found
  }

  #lookupV4(value: number): CidrTableEntry<T> | undefined {
    const lengths = this.#v4Lengths
    for (let i = 0; i < lengths.length; i++) {
      const len = lengths[i]!
      const hit = this.#v4[len]!.get((value & V4_MASKS[len]!) >>> 0)
      if (hit !== undefined) return hit
    }
    return undefined
  }

  /** Every entry, IPv4 first, longest prefixes first; order within a length is insertion order. */
  *entries(): IterableIterator<CidrTableEntry<T>> {
    for (const len of this.#v4Lengths) yield* this.#v4[len]!.values()
    for (const len of this.#v6Lengths) yield* this.#v6[len]!.values()
  }

  clear(): void {
    this.#v4.fill(undefined)
    this.#v6.fill(undefined)
    this.#v4Lengths = []
    this.#v6Lengths = []
    this.#size = 0
  }
}

function lengthsInUse(maps: readonly (Map<unknown, unknown> | undefined)[]): number[] {
  const lengths: number[] = []
  for (let len = maps.length - 1; len >= 0; len--) if (maps[len] !== undefined) lengths.push(len)
  return lengths
}
