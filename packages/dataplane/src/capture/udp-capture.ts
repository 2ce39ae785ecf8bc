import dgram from 'node:dgram'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { type IpFamily, PodlinkError } from '@podlink/core'
import { type ConntrackLookup, createConntrackLookup } from '../native/conntrack.ts'
import {
  AF_INET,
  AF_INET6,
  intOption,
  libc,
  SO_MARK,
  SO_REUSEADDR,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOL_IPV6,
  SOL_SOCKET,
  sysError,
} from '../native/libc.ts'
import { encodeSockaddr, type SocketAddress } from '../native/sockaddr.ts'
import { DEFAULT_RULESET_OPTIONS } from '../rules/compute-ruleset.ts'

export interface UdpCaptureOptions {
  /** The port nat REDIRECT sends to (`udpPort` of the ruleset); not 0. */
  readonly port: number
  readonly family?: IpFamily
  /** Carried by every capture socket, so that nothing they send is captured again. */
  readonly bypassMark?: number
  /**
   * A flow's original destination is remembered this long after its last datagram. Default: two thirds of
   * nf_conntrack_udp_timeout (20 s of 30 s), so a remembered flow's conntrack entry is always still alive and a
   * client port cannot have been reused for another destination meanwhile.
   */
  readonly flowIdleMs?: number
  /** Bound on remembered flows; the least recently created is forgotten first. */
  readonly maxFlows?: number
  /** Test seam: the conntrack lookup (default: ctnetlink over NETLINK_NETFILTER). */
  readonly conntrack?: ConntrackLookup
}

export interface CapturedDatagram {
  readonly data: Buffer
  readonly src: SocketAddress
  /** Where the client sent it, from the flow's conntrack entry. */
  readonly originalDst: SocketAddress
  /** Sends `buf` to `src` so that the client sees it come from `originalDst` (conntrack reverses the REDIRECT). */
  reply(buf: Uint8Array): void
}

export interface UdpCaptureStats {
  readonly datagrams: number
  /** Conntrack lookups that found the flow (one per new flow). */
  readonly flows: number
  /** Conntrack queries made, counting every candidate address tried. */
  readonly queries: number
  /** Datagrams dropped: no conntrack entry at any local address, or sent to our port directly (not redirected). */
  readonly dropped: number
  /** Local addresses with a socket of their own (learned, plus loopback). */
  readonly localSockets: number
  readonly cachedFlows: number
}

export interface UdpCapture {
  readonly port: number
  stats(): UdpCaptureStats
  /** Closes every socket and the conntrack handle. */
  close(): Promise<void>
}

interface Flow {
  readonly dst: SocketAddress
  /** The address the REDIRECT sent the datagram to: replies must leave from exactly this address. */
  readonly local: string
  used: number
}

const IPV6_V6ONLY = 26

/**
 * Plain UDP sockets behind `nat REDIRECT --to-ports <port>` (capture.md §2b). The original destination comes from
 * conntrack, by the reply tuple (local address:port -> client), once per flow. Node cannot read IP_PKTINFO, so
 * the local address is known from the socket: one bound to loopback (host-originated OUTPUT redirects go to
 * 127.0.0.1 / ::1), one per local address learned so far, and a wildcard one for the rest. A datagram on the
 * wildcard socket is looked up at each local address in turn; the address that answers gets its own socket, which
 * from then on receives that address's datagrams (a bound socket beats the wildcard) and sends the replies from
 * it, which conntrack needs to reverse the REDIRECT. Unlike TPROXY this survives br_netfilter (bridged pods).
 */
export function createUdpCapture(options: UdpCaptureOptions, onDatagram: (d: CapturedDatagram) => void): UdpCapture {
  if (!Number.isInteger(options.port) || options.port <= 0 || options.port > 65_535) {
    throw new PodlinkError('DATAPLANE_LISTEN_FAILED', `Cannot capture UDP on port ${options.port} as it is not 1-65535`)
  }
  const family = options.family ?? 4
  const port = options.port
  const mark = options.bypassMark ?? DEFAULT_RULESET_OPTIONS.bypassMark
  const idleMs = options.flowIdleMs ?? defaultFlowIdleMs()
  const maxFlows = options.maxFlows ?? 65_536
  const loopback = family === 4 ? '127.0.0.1' : '::1'
  const ct = options.conntrack ?? createConntrackLookup()
  const st = { datagrams: 0, flows: 0, queries: 0, dropped: 0 }
  const flows = new Map<string, Flow>()
  const bound = new Map<string, dgram.Socket>()
  let wildcard: dgram.Socket
  let candidates: string[] = []
  let candidatesAt = 0
  let closed = false

  const open = (address: string): dgram.Socket => {
    const s = dgram.createSocket(family === 4 ? 'udp4' : 'udp6')
    s.bind({ fd: boundFd(family, address, port, mark) })
    s.on('message', (data, r) => receive(data, r, address === wildcardAddress(family) ? null : address))
    // A send error (ICMP unreachable reported back, a vanished address) concerns one datagram: UDP drops it anyway.
    s.on('error', () => {})
    return s
  }
  const socketFor = (address: string): dgram.Socket => {
    const have = bound.get(address)
    if (have) return have
    try {
      const s = open(address)
      bound.set(address, s)
      return s
    } catch {
      return wildcard // the address went away: routing picks the source, which is all there is left to try
    }
  }

  const refreshCandidates = (): void => {
    const now = Date.now()
    if (now - candidatesAt < 1000) return
    candidatesAt = now
    const fresh = localAddresses(family).filter((a) => a !== loopback)
    // Addresses that answered before come first: on a node, nearly every pod flow arrives at cni0's address.
    candidates = [...new Set([...candidates.filter((a) => fresh.includes(a)), ...fresh, loopback])]
  }

  const lookup = (at: string, src: SocketAddress): SocketAddress | null => {
    st.queries++
    return ct.originalDst('udp', { family, address: at, port }, src)
  }

  const resolve = (src: SocketAddress, local: string | null): Flow | null => {
    if (local !== null) {
      const dst = lookup(local, src)
      return dst ? { dst, local, used: 0 } : null
    }
    const tried = new Set<string>()
    for (let round = 0; round < 2; round++) {
      for (const at of candidates) {
        if (tried.has(at)) continue
        tried.add(at)
        const dst = lookup(at, src)
        if (!dst) continue
        candidates = [at, ...candidates.filter((a) => a !== at)]
        return { dst, local: at, used: 0 }
      }
      refreshCandidates() // an address may have been added since the last listing (at most once a second)
    }
    return null
  }

  function receive(data: Buffer, r: dgram.RemoteInfo, local: string | null): void {
    st.datagrams++
    const src: SocketAddress = { family, address: r.address, port: r.port }
    const key = `${r.address}|${r.port}|${local ?? '*'}`
    let flow = flows.get(key)
    if (flow === undefined) {
      let found: Flow | null
      try {
        found = resolve(src, local)
      } catch {
        found = null // conntrack refused (no CAP_NET_ADMIN, module gone): the datagram cannot be placed
      }
      // Not redirected (sent to our port directly): its "original" destination is our own socket. Dropped, or the
      // proxy would loop it back here.
      if (found === null || (found.dst.port === port && found.dst.address === found.local)) {
        st.dropped++
        return
      }
      st.flows++
      if (flows.size >= maxFlows) {
        const oldest = flows.keys().next()
        if (!oldest.done) flows.delete(oldest.value)
      }
      flow = found
      flows.set(key, flow)
    }
    flow.used = Date.now()
    const sender = socketFor(flow.local)
    onDatagram({
      data,
      src,
      originalDst: flow.dst,
      reply: (buf) => {
        if (!closed) sender.send(buf, src.port, src.address)
      },
    })
  }

  wildcard = open(wildcardAddress(family))
  try {
    bound.set(loopback, open(loopback))
  } catch (err) {
    wildcard.close()
    ct.close()
    throw err
  }
  refreshCandidates()

  const sweep = setInterval(
    () => {
      const cutoff = Date.now() - idleMs
      for (const [k, f] of flows) if (f.used < cutoff) flows.delete(k)
    },
    Math.max(250, idleMs / 4),
  )
  sweep.unref()

  return {
    port,
    stats: () => ({ ...st, localSockets: bound.size, cachedFlows: flows.size }),
    close: async () => {
      if (closed) return
      closed = true
      clearInterval(sweep)
      const all = [wildcard, ...bound.values()]
      bound.clear()
      flows.clear()
      await Promise.all(all.map((s) => new Promise<void>((done) => s.close(() => done()))))
      ct.close()
    },
  }
}

function wildcardAddress(family: IpFamily): string {
  return family === 4 ? '0.0.0.0' : '::'
}

/** The node's own addresses of `family`, as REDIRECT in PREROUTING may pick them (link-local v6 excluded). */
function localAddresses(family: IpFamily): string[] {
  const out: string[] = []
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family !== (family === 4 ? 'IPv4' : 'IPv6')) continue
      if (family === 6 && /^fe[89ab]/i.test(a.address)) continue
      out.push(a.address)
    }
  }
  return out
}

function defaultFlowIdleMs(): number {
  try {
    const s = Number(readFileSync('/proc/sys/net/netfilter/nf_conntrack_udp_timeout', 'utf8').trim())
    if (Number.isFinite(s) && s > 0) return Math.floor((s * 1000 * 2) / 3)
  } catch {
    // no conntrack sysctl visible (tests, containers): the kernel default applies
  }
  return 20_000
}

/** A UDP socket with SO_REUSEADDR (wildcard and per-address sockets share the port) and the bypass mark. */
function boundFd(family: IpFamily, address: string, port: number, mark: number): number {
  const c = libc()
  const fd = c.socket(family === 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)
  if (fd < 0) throw sysError('DATAPLANE_SOCKET_FAILED', 'create a UDP socket')
  try {
    if (family === 6) intOption(fd, SOL_IPV6, IPV6_V6ONLY, 1, 'set IPV6_V6ONLY')
    intOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, 'set SO_REUSEADDR')
    intOption(fd, SOL_SOCKET, SO_MARK, mark, 'set SO_MARK (needs CAP_NET_ADMIN)')
    const sa = encodeSockaddr(family, address, port)
    if (c.bind(fd, sa, sa.length) !== 0) throw sysError('DATAPLANE_LISTEN_FAILED', `bind UDP ${address} port ${port}`)
  } catch (err) {
    c.close(fd)
    throw err
  }
  return fd
}
