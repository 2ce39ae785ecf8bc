import { type Identify, identify } from '@libp2p/identify'
import type {
  ComponentLogger,
  ConnectionProtector,
  Libp2pEvents,
  PrivateKey,
  TypedEventTarget,
  Upgrader,
} from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import type { Ping } from '@libp2p/ping'
import { ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { type TCPSocketOptions, tcp } from '@libp2p/tcp'
import { tls } from '@libp2p/tls'
import { yamux } from '@libp2p/yamux'
import { KEEPALIVE_IDLE_MS } from '@podlink/core'
import { createLibp2p, type Libp2p } from 'libp2p'
import { createAnnounceFilter } from './announce-filter.ts'
import { createMemberGater, type MemberGater } from './member-gater.ts'
import { pskProof } from './psk-proof.ts'
import { libp2pLoggerOption, skipRepeatedProtocolMerges } from './stream-overheads.ts'
import type { SwarmKey } from './swarm-key.ts'

/**
 * @libp2p/tcp spreads `listenOpts` into `net.Server.listen()`; Node >= 22.12 honours `reusePort` there, which lets
 * the koffi punch sockets bind the listening port too (research/tcp-punch.md §6.3). The option is missing from
 * @libp2p/tcp's type, hence the cast.
 */
const REUSE_PORT = { reusePort: true } as TCPSocketOptions

/** Probes after KEEPALIVE_IDLE_MS idle: a NAT router that forgot a mapping is found, or the mapping made again. */
const KEEPALIVE = { keepAlive: true, keepAliveInitialDelay: KEEPALIVE_IDLE_MS }

export type EncrypterName = 'tls' | 'noise'
/** `pnet`: libp2p private network (XSalsa20 over every byte); `proof`: one HMAC proof per connection. */
export type PskMode = 'pnet' | 'proof'

export interface TunnelNodeOptions {
  /** Default `/ip4/0.0.0.0/tcp/4001`. The TCP listener uses SO_REUSEPORT so punch sockets can share the port. */
  readonly listen?: readonly string[]
  /** Extra addresses to announce (e.g. the NAT's WAN address learned from a rendezvous). */
  readonly announce?: readonly string[]
  /** CIDRs to treat as public when announcing (the lab's 203.0.113.0/24); empty in real clusters. */
  readonly publicRanges?: readonly string[]
  /** In order of preference. Default tls then noise (tls measured ~30% faster on Node 24 with AES-NI). */
  readonly encrypters?: readonly EncrypterName[]
  /** The cluster's pre-shared key; null or absent = open network (tests only). */
  readonly psk?: { readonly key: SwarmKey; readonly mode?: PskMode } | null
  /** Initial member peer IDs; replace later with `setMembers`. */
  readonly members?: Iterable<string>
  /**
   * Hears of every inbound peer shut out: `wrong-psk` (it proved another swarm key; `proof` mode only, pnet cannot
   * tell) or `not-a-member` (its peer ID is on no Node; `peer` is that ID). For counting, never for deciding.
   */
  readonly onRefused?: (refusal: PeerRefusal) => void
}

export type PeerRefusal = { readonly reason: 'wrong-psk' } | { readonly reason: 'not-a-member'; readonly peer: string }

export interface TunnelNodeComponents {
  readonly privateKey: PrivateKey
}

/** What the punch code needs from libp2p's internals, captured by a tiny service at start. */
export interface UpgradeComponents {
  readonly upgrader: Upgrader
  readonly logger: ComponentLogger
  /** The node's event bus: the responder learns its upgraded Connection from 'connection:open'. */
  readonly events: TypedEventTarget<Libp2pEvents>
}

export type TunnelServices = { identify: Identify; ping: Ping; components: UpgradeComponents }

export interface TunnelNode {
  readonly libp2p: Libp2p<TunnelServices>
  readonly peerId: string
  readonly components: UpgradeComponents
  /** Replace the member set; open connections to peers no longer in it are closed. */
  setMembers(peerIds: Iterable<string>): Promise<void>
  isMember(peerId: string): boolean
  stop(): Promise<void>
}

function protector(options: TunnelNodeOptions): ((components: unknown) => ConnectionProtector) | undefined {
  const psk = options.psk
  if (psk == null) return undefined
  const onMismatch = () => options.onRefused?.({ reason: 'wrong-psk' })
  return (psk.mode ?? 'proof') === 'pnet'
    ? preSharedKey({ psk: psk.key.file })
    : pskProof({ key: psk.key.key, onMismatch })
}

/** The member gater of a node built with these options: refusals are reported to `onRefused`. */
export function memberGaterFor(options: TunnelNodeOptions): MemberGater {
  return createMemberGater(options.members, (peer) => options.onRefused?.({ reason: 'not-a-member', peer }))
}

/**
 * libp2p's connection monitor pings every connection each 10 s and aborts the connection, flows and all, when one
 * ping misses its timeout (an adaptive one, 5 s at least). A busy edge node misses that without anything being
 * wrong: on this lab's 2-core machine under load, a ping behind a saturated punched connection took more than 5 s
 * and killed a 1 GiB flow at 4-770 MB, in 5 of 6 runs. A connection that is really dead still goes within 30 s;
 * flows to a peer whose process died go at once (its kernel resets the TCP connection).
 */
export const CONNECTION_MONITOR = {
  pingInterval: 10_000,
  pingTimeout: { minTimeout: 20_000, maxTimeout: 30_000 },
} as const

/**
 * The libp2p settings every podlink node shares (the mesh node adds the relay transport and server to them):
 * addresses with the announce filter, TCP with reusePort, TLS/noise, yamux, PSK protection, the member gater.
 */
export function baseLibp2pOptions(options: TunnelNodeOptions, members: MemberGater) {
  const connectionProtector = protector(options)
  return {
    addresses: {
      listen: [...(options.listen ?? ['/ip4/0.0.0.0/tcp/4001'])],
      announce: [...(options.announce ?? [])],
      announceFilter: createAnnounceFilter(options.publicRanges ?? []),
    },
    tcp: tcp({ listenOpts: { ...REUSE_PORT, ...KEEPALIVE }, dialOpts: KEEPALIVE }),
    connectionEncrypters: (options.encrypters ?? ['tls', 'noise']).map((name) => (name === 'tls' ? tls() : noise())),
    streamMuxers: [yamux(YAMUX_OPTIONS)],
    ...(connectionProtector === undefined ? {} : { connectionProtector }),
    connectionGater: members.gater,
    connectionMonitor: CONNECTION_MONITOR,
    // libp2p's debug loggers cost ~7.5 µs and an isatty() per scope, several scopes per stream: quiet unless DEBUG is set.
    ...libp2pLoggerOption(),
  }
}

/** Membership and lifecycle of a started node: a member set change closes connections to peers no longer in it. */
export function memberControls(
  libp2p: Libp2p,
  members: MemberGater,
): Pick<TunnelNode, 'setMembers' | 'isMember' | 'stop'> {
  return {
    async setMembers(peerIds) {
      members.setMembers(peerIds)
      const dropped = libp2p.getConnections().filter((c) => !members.isMember(c.remotePeer))
      await Promise.all(
        dropped.map(async (c) => {
          try {
            await c.close()
          } catch (err) {
            c.abort(err instanceof Error ? err : new Error(String(err)))
          }
        }),
      )
    },
    isMember: (peerId) => members.isMember(peerId),
    async stop() {
      await libp2p.stop()
    },
  }
}

/**
 * Build and start the libp2p node of one agent: TCP (reusePort) + TLS/noise + yamux, PSK protection, member-only
 * gating, identify and ping, and an announce filter that never offers loopback or LAN addresses.
 * Rejects with libp2p's error when a listen address cannot be bound.
 */
export async function createTunnelNode(
  options: TunnelNodeOptions,
  components: TunnelNodeComponents,
): Promise<TunnelNode> {
  const members = memberGaterFor(options)
  const { tcp: tcpTransport, ...base } = baseLibp2pOptions(options, members)
  const libp2p = await createLibp2p({
    privateKey: components.privateKey,
    ...base,
    transports: [tcpTransport],
    services: {
      identify: identify(),
      ping: ping(),
      components: (c: UpgradeComponents): UpgradeComponents => ({
        upgrader: c.upgrader,
        logger: c.logger,
        events: c.events,
      }),
    },
  })
  skipRepeatedProtocolMerges(libp2p.peerStore)
  return {
    libp2p,
    peerId: libp2p.peerId.toString(),
    components: libp2p.services.components,
    ...memberControls(libp2p, members),
  }
}

/**
 * A stream's receive window bounds what a paused reader buffers: the proxy pauses a stream when the socket
 * behind it is slow, and libp2p aborts a stream whose read buffer passes maxReadBufferLength (the proxy
 * raises it to 17 MiB). yamux's default window grows to 16 MiB, too close to that limit for comfort. 4 MiB keeps a wide margin and still allows ~80 MB/s per stream
 * at 50 ms RTT (perf-anchors.md saw no throughput difference between window sizes on this machine).
 */
export const YAMUX_OPTIONS = { streamOptions: { maxStreamWindowSize: 4 * 1024 * 1024 } }
