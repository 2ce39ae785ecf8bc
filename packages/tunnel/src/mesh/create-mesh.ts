import type { Connection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { type PathKind, type PeerStatus, PodlinkError, type RelayStatus } from '@podlink/core'
import { peerIdOf } from '../node/peer-id-cache.ts'
import { createPeerTable, type PeerTable } from '../node/peer-table.ts'
import { SocketMultiaddrConnection } from '../punch/socket-multiaddr-connection.ts'
import { bestConnection, isRelayed, pathKind, relayOf } from './connection-path.ts'
import type { MeshNode } from './create-mesh-node.ts'
import { startKeepaliveSweep } from './keepalive-sweep.ts'
import { type NatMapping, type ObserveTarget, observeMapping } from './observe-mapping.ts'
import { type ObserveServer, startObserveServer } from './observe-server.ts'
import { createRelayKeeper, type RelayInfo } from './relay-keeper.ts'
import { createUpgradeHandler, requestUpgrade, UPGRADE_PROTOCOL, type UpgradeDeps } from './upgrade-protocol.ts'

/** One member as the agent knows it. */
export interface MeshPeer {
  readonly node: string
  readonly peerId: string
  /** Proven on our LAN by the agent's prober: only ever connected over the LAN, never relayed. */
  readonly lan: boolean
  /** Dialable public multiaddrs without `/p2p` (ExternalIP, or InternalIP when public); empty when NATed. */
  readonly publicAddrs: readonly string[]
  /** LAN multiaddrs for `lan` peers (the prober's), dialled when no LAN connection is open. */
  readonly lanAddrs?: readonly string[]
}

export interface MeshOptions {
  /** The TCP port libp2p listens on (reusePort): observations and punches leave from it. */
  readonly meshPort: number
  readonly relays: readonly RelayInfo[]
  /** Our own public multiaddrs (without `/p2p`); non-empty = we are dialable, NATed peers get a dial-back. */
  readonly publicAddrs?: readonly string[]
  /** Observe (rendezvous) ports on relay agents; default meshPort+1 and meshPort+2. Relay agents listen on them. */
  readonly observePorts?: readonly [number, number]
  readonly punchDeadlineMs?: number
  /** Reservations held; default 2. */
  readonly relayReservations?: number
  readonly pingIntervalMs?: number
}

/** Whether a libp2p connection runs over a punched socket (libp2p 3.3's `Connection.maConn`; see tcpSocketOf). */
const isPunchedConnection = (connection: Connection): boolean =>
  (connection as unknown as { maConn?: unknown }).maConn instanceof SocketMultiaddrConnection

export interface MeshDeps {
  /** Shared with the proxy, which counts bytes and flows in it. */
  readonly table?: PeerTable
  readonly now?: () => Date
  /** Told about every path upgrade attempt as it ends (metrics count hole punches by result and reason). */
  readonly onUpgrade?: (event: {
    readonly peerId: string
    readonly method: 'direct' | 'dialback' | 'punch'
    readonly ok: boolean
    readonly reason: string | null
  }) => void
  /** Told about every RTT measured to a peer (metrics keep a histogram). */
  readonly onRtt?: (peerId: string, rttMs: number) => void
  /**
   * Told whenever a peer's path or relay changes (the agent logs it: when a path broke and what replaced it is what
   * an operator asks after a fault). `connections` counts the peer's open connections after the change.
   */
  readonly onPath?: (event: {
    readonly peerId: string
    readonly from: PathKind
    readonly to: PathKind
    readonly relay: string | null
    readonly connections: number
  }) => void
}

export interface Mesh {
  setPeers(peers: readonly MeshPeer[]): void
  setRelays(relays: readonly RelayInfo[]): void
  /** The best open connection for a new flow (direct/punched before relayed); connects when there is none. */
  connectionFor(peerId: string, signal: AbortSignal): Promise<Connection>
  peers(): PeerStatus[]
  /** One peer's row (per new flow: peers() copies and sorts every row). */
  peer(peerId: string): PeerStatus | undefined
  relays(): RelayStatus[]
  /** Our mesh port's NAT mapping as last observed. */
  mapping(): NatMapping | null
  /** Resolves once `count` relay reservations are held (capped at the number of relays). */
  waitReserved(count: number, signal: AbortSignal): Promise<void>
  stop(): Promise<void>
}

interface PeerState {
  info: MeshPeer
  wanted: boolean
  upgrading: boolean
  responding: boolean
  failures: number
  nextAttemptAt: number
}

const MAPPING_TTL_MS = 5 * 60_000
const backoffMs = (failures: number): number => Math.min(5_000 * 2 ** Math.max(0, failures - 1), 5 * 60_000)
const ipOf = (addr: string): string | undefined =>
  multiaddr(addr)
    .getComponents()
    .find((c) => c.name === 'ip4' || c.name === 'ip6')?.value
const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/**
 * Path manager: every peer with traffic gets the best path the network allows, and its PeerStatus says why.
 * Public peers are dialled; a public node reaches NATed ones by dial-back; two NATed agents punch over TCP
 * simultaneous open, coordinated over the relayed connection (`/podlink/upgrade/1`); symmetric NAT (seen by the
 * observe ports) stays relayed with the reason. LAN peers are never relayed. Upgrades never close the relayed
 * connection, so running streams finish on it; new flows take the better one.
 */
export async function createMesh(node: MeshNode, options: MeshOptions, deps: MeshDeps = {}): Promise<Mesh> {
  const table = deps.table ?? createPeerTable({ now: deps.now ?? (() => new Date()) })
  const libp2p = node.libp2p
  const observePorts = options.observePorts ?? [options.meshPort + 1, options.meshPort + 2]
  const selfPublic = options.publicAddrs ?? []
  const states = new Map<string, PeerState>()
  const punched = new Set<string>()
  const pending = new Map<string, Promise<Connection>>()
  const stopping = new AbortController()
  const keeper = createRelayKeeper(node, { want: options.relayReservations ?? 2 })
  const observer: ObserveServer | null = node.relayServer ? await startObserveServer({ ports: observePorts }) : null
  let mapping: NatMapping | null = null
  let mappingAt = 0
  let mappingJob: Promise<NatMapping> | null = null

  async function learnMapping(signal: AbortSignal): Promise<NatMapping> {
    if (mapping !== null && mapping.kind !== 'unknown' && Date.now() - mappingAt < MAPPING_TTL_MS) return mapping
    mappingJob ??= (async () => {
      let result: NatMapping = { kind: 'unknown', host: null, port: null, seen: [], reason: 'no relay known' }
      for (const relay of [...keeper.reserved(), ...keeper.all()]) {
        const host = relay.addrs.map(ipOf).find((h) => h !== undefined)
        if (host === undefined) continue
        const targets: ObserveTarget[] = observePorts.map((port) => ({ host, port }))
        result = await observeMapping(options.meshPort, targets, signal)
        if (result.kind !== 'unknown') break
      }
      mapping = result
      mappingAt = Date.now()
      return result
    })().finally(() => {
      mappingJob = null
    })
    return mappingJob
  }

  function refresh(peerId: string): void {
    const state = states.get(peerId)
    if (state === undefined) return
    const connections = libp2p.getConnections(peerIdOf(peerId))
    const best = bestConnection(state.info.lan ? connections.filter((c) => !isRelayed(c)) : connections)
    const kind = pathKind(best, state.info.lan, punched)
    const relayId = best === undefined ? null : relayOf(best)
    const relayNode = relayId === null ? null : (keeper.all().find((r) => r.peerId === relayId)?.node ?? relayId)
    const before = table.get(peerId)
    const was = before === undefined ? null : { path: before.path, relay: before.relay }
    table.setPath(peerId, kind, { relay: relayNode, ...(kind === 'punched' ? { reason: null } : {}) })
    const now = table.get(peerId)
    if (was !== null && now !== undefined && (was.path !== now.path || was.relay !== now.relay))
      deps.onPath?.({
        peerId,
        from: was.path,
        to: now.path,
        relay: now.relay,
        connections: connections.filter((c) => c.status === 'open').length,
      })
    table.setAddrs(
      peerId,
      connections.filter((c) => c.status === 'open').map((c) => c.remoteAddr.toString()),
    )
    // No RTT for a connectionless LAN peer: a ping would dial it for nothing.
    if (before?.path !== kind && best !== undefined) void measureRtt(peerId)
  }

  async function measureRtt(peerId: string): Promise<void> {
    const state = states.get(peerId)
    if (state === undefined || table.get(peerId)?.path === 'none') return
    try {
      const rtt = await libp2p.services.ping.ping(peerIdOf(peerId), {
        signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(5_000)]),
      })
      table.setRtt(peerId, Math.round(rtt * 10) / 10)
      deps.onRtt?.(peerId, rtt)
    } catch {
      table.setRtt(peerId, null)
    }
  }

  const upgradeDeps: UpgradeDeps = {
    node,
    meshPort: options.meshPort,
    punchDeadlineMs: options.punchDeadlineMs ?? 3_000,
    mapping: learnMapping,
    refusal(peerId) {
      const state = states.get(peerId)
      if (state === undefined) return 'unknown peer'
      if (state.info.lan) return 'lan peer: use the LAN connection'
      if (state.responding) return 'busy'
      // Both sides asked at once: the lower peer ID's request wins, the other side answers it.
      if (state.upgrading && node.peerId < peerId) return 'busy'
      return null
    },
    responding(peerId, active) {
      const state = states.get(peerId)
      if (state !== undefined) state.responding = active
    },
    punched(peerId, connection) {
      punched.add(connection.id)
      refresh(peerId)
    },
  }

  async function upgrade(state: PeerState): Promise<void> {
    const peerId = state.info.peerId
    const relayed = bestConnection(libp2p.getConnections(peerIdOf(peerId)))
    if (relayed === undefined || !isRelayed(relayed)) return
    state.upgrading = true
    const signal = AbortSignal.any([stopping.signal, AbortSignal.timeout(20_000)])
    let result: { ok: boolean; reason?: string; busy?: boolean }
    const method = state.info.publicAddrs.length > 0 ? 'direct' : selfPublic.length > 0 ? 'dialback' : 'punch'
    try {
      if (state.info.publicAddrs.length > 0) {
        result = await dialDirect(state.info, signal).then(
          () => ({ ok: true }),
          (err: unknown) => ({ ok: false, reason: `direct dial failed: ${errText(err)}` }),
        )
      } else if (selfPublic.length > 0) {
        result = await requestUpgrade(upgradeDeps, relayed, 'dialback', selfPublic, signal)
      } else {
        result = await requestUpgrade(upgradeDeps, relayed, 'punch', [], signal)
      }
    } finally {
      state.upgrading = false
    }
    if (result.busy !== true)
      deps.onUpgrade?.({
        peerId,
        method,
        ok: result.ok,
        reason: result.ok ? null : (result.reason ?? 'upgrade failed'),
      })
    if (result.ok) {
      state.failures = 0
    } else if (result.busy !== true) {
      state.failures++
      state.nextAttemptAt = Date.now() + backoffMs(state.failures)
      table.setReason(peerId, result.reason ?? 'upgrade failed')
    }
    refresh(peerId)
  }

  function maybeUpgrade(state: PeerState): void {
    if (state.info.lan || state.upgrading || state.responding || Date.now() < state.nextAttemptAt) return
    if (stopping.signal.aborted) return
    void upgrade(state)
  }

  async function dialDirect(info: MeshPeer, signal: AbortSignal, addrs = info.publicAddrs): Promise<Connection> {
    let last: unknown = new Error('no address')
    for (const addr of addrs) {
      try {
        return await libp2p.dial(multiaddr(`${addr}/p2p/${info.peerId}`), {
          force: true,
          signal: AbortSignal.any([signal, AbortSignal.timeout(3_000)]),
        })
      } catch (err) {
        last = err
      }
    }
    throw last
  }

  async function dialRelayed(info: MeshPeer, signal: AbortSignal): Promise<Connection> {
    const relays = keeper.all()
    if (relays.length === 0) throw new Error('no relay known')
    const errors: string[] = []
    for (const relay of relays) {
      for (const addr of relay.addrs) {
        try {
          return await libp2p.dial(multiaddr(`${addr}/p2p/${relay.peerId}/p2p-circuit/p2p/${info.peerId}`), {
            signal: AbortSignal.any([signal, AbortSignal.timeout(4_000)]),
          })
        } catch (err) {
          errors.push(`${relay.node}: ${errText(err)}`)
        }
      }
    }
    throw new Error(errors.join('; '))
  }

  async function connect(state: PeerState, signal: AbortSignal): Promise<Connection> {
    const info = state.info
    if (info.lan) {
      try {
        return await dialDirect(info, signal, info.lanAddrs ?? [])
      } catch (err) {
        throw new PodlinkError('NO_PATH', `Cannot reach ${info.node} as it is a LAN peer without a LAN connection`, {
          cause: err,
        })
      }
    }
    const why: string[] = []
    if (info.publicAddrs.length > 0) {
      try {
        return await dialDirect(info, signal)
      } catch (err) {
        why.push(`direct: ${errText(err)}`)
        table.setReason(info.peerId, `direct dial failed: ${errText(err)}`)
      }
    }
    try {
      const conn = await dialRelayed(info, signal)
      maybeUpgrade(state)
      return conn
    } catch (err) {
      why.push(`relay: ${errText(err)}`)
    }
    throw new PodlinkError('NO_PATH', `Cannot reach ${info.node} as no path is open (${why.join('; ')})`)
  }

  const onConnection = (evt: CustomEvent<Connection>): void => {
    if (evt.type === 'connection:close') punched.delete(evt.detail.id)
    // A punched connection opens before its upgrade reports it (deps.punched): known by its transport, it never
    // shows as 'direct' in between (the peer table and the log said relay -> direct -> punched within 1 ms).
    else if (isPunchedConnection(evt.detail)) punched.add(evt.detail.id)
    refresh(evt.detail.remotePeer.toString())
  }
  libp2p.addEventListener('connection:open', onConnection)
  libp2p.addEventListener('connection:close', onConnection)
  await libp2p.handle(UPGRADE_PROTOCOL, createUpgradeHandler(upgradeDeps), { runOnLimitedConnection: true })

  // Retry upgrades (with backoff) for peers that had traffic and are still relayed; measure RTTs.
  const retryTimer = setInterval(() => {
    for (const state of states.values())
      if (state.wanted && table.get(state.info.peerId)?.path === 'relay') maybeUpgrade(state)
  }, 1_000)
  // Connections with flows probe after 1 s without hearing anything, idle ones after 5 s (BUSY_KEEPALIVE_MS).
  const keepalive = startKeepaliveSweep(() => libp2p.getConnections())
  const pingTimer = setInterval(() => {
    for (const peerId of states.keys()) void measureRtt(peerId)
  }, options.pingIntervalMs ?? 10_000)
  keeper.setRelays(options.relays)
  // Learn the mapping early so the first punch does not wait for it; failures are retried on demand.
  void keeper.waitReserved(1, AbortSignal.any([stopping.signal, AbortSignal.timeout(30_000)])).then(
    () => learnMapping(stopping.signal),
    () => undefined,
  )

  return {
    setPeers(peers) {
      const ids = new Set<string>()
      for (const info of peers) {
        if (info.peerId === node.peerId) continue
        ids.add(info.peerId)
        table.upsert(info.peerId, { node: info.node, lan: info.lan })
        const state = states.get(info.peerId)
        if (state === undefined)
          states.set(info.peerId, {
            info,
            wanted: false,
            upgrading: false,
            responding: false,
            failures: 0,
            nextAttemptAt: 0,
          })
        else state.info = info
        refresh(info.peerId)
      }
      for (const id of [...states.keys()])
        if (!ids.has(id)) {
          states.delete(id)
          table.remove(id)
        }
    },
    setRelays: (relays) => keeper.setRelays(relays),
    async connectionFor(peerId, signal) {
      const state = states.get(peerId)
      if (state === undefined) throw new PodlinkError('UNKNOWN_PEER', `Cannot connect to ${peerId} as it is no member`)
      state.wanted = true
      const connections = libp2p.getConnections(peerIdOf(peerId))
      const best = bestConnection(state.info.lan ? connections.filter((c) => !isRelayed(c)) : connections)
      if (best !== undefined) {
        if (isRelayed(best)) maybeUpgrade(state)
        return best
      }
      let job = pending.get(peerId)
      if (job === undefined) {
        job = connect(state, AbortSignal.any([stopping.signal, AbortSignal.timeout(15_000)])).finally(() =>
          pending.delete(peerId),
        )
        pending.set(peerId, job)
      }
      signal.throwIfAborted()
      return await Promise.race([
        job,
        new Promise<never>((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        ),
      ])
    },
    peers: () => table.status(),
    peer: (peerId) => table.get(peerId),
    relays: () => keeper.status(),
    mapping: () => mapping,
    waitReserved: (count, signal) => keeper.waitReserved(count, signal),
    async stop() {
      stopping.abort()
      clearInterval(retryTimer)
      clearInterval(pingTimer)
      keepalive.stop()
      keeper.stop()
      libp2p.removeEventListener('connection:open', onConnection)
      libp2p.removeEventListener('connection:close', onConnection)
      await libp2p.unhandle(UPGRADE_PROTOCOL).catch(() => undefined)
      await observer?.close()
    },
  }
}
