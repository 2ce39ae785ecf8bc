import { invalid } from './api-error.ts'

/**
 * Hands out ClusterIPs from an IPv4 CIDR, lowest free address first. The network address and the
 * first host (`.1`, which real clusters give to the `kubernetes` Service) are never handed out, so
 * the sequence matches what an operator expects from a fresh cluster (10.96.0.10 is kube-dns there;
 * we do not reserve it, since this cluster has no DNS).
 */
export class ClusterIpAllocator {
  readonly #base: number
  readonly #size: number

  constructor(cidr: string) {
    const [ip = '', bitsText = ''] = cidr.split('/')
    const bits = Number(bitsText)
    if (!Number.isInteger(bits) || bits < 8 || bits > 30) throw new Error(`Cannot use service CIDR ${cidr}`)
    this.#size = 2 ** (32 - bits)
    this.#base = ipToInt(ip) & ~(this.#size - 1)
  }

  contains(ip: string): boolean {
    const n = ipToInt(ip)
    return n >= this.#base && n < this.#base + this.#size
  }

  /** The lowest address not in `used`; a full range is a 422, as upstream ("range is full"). */
  allocate(used: ReadonlySet<string>, serviceName: string): string {
    for (let offset = 2; offset < this.#size - 1; offset++) {
      const candidate = intToIp(this.#base + offset)
      if (!used.has(candidate)) return candidate
    }
    throw invalid('services', serviceName, 'spec.clusterIPs: Internal error: range is full')
  }
}

export function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number)
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`Cannot parse ${ip} as an IPv4 address`)
  }
  return (((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) >>> 0
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}
