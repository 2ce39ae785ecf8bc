/**
 * The data path of one agent: captured TCP connections and UDP datagrams -> the proxy -> a flow on the
 * mesh (or a direct, marked connection for local and same-LAN endpoints); and the exit side, which
 * admits flows only to this node's pods and the Service endpoints it serves.
 */
import type net from 'node:net'
import type { Connection, Stream } from '@libp2p/interface'
import { type ClusterView, type FlowStatus, type Logger, PodlinkError, type RoutingTable } from '@podlink/core'
import {
  createExitPorts,
  createMarkedTcpConnection,
  createMarkedUdpSocket,
  createTcpCapture,
  createUdpCapture,
  type TcpCapture,
  type UdpCapture,
} from '@podlink/dataplane'
import {
  CONNECT_ATTEMPTS,
  type ConnectRefusal,
  createFlowExit,
  createUdpProxy,
  EndpointBalancer,
  type ExitFlow,
  endpointId,
  FlowRegistry,
  messageStreamFlowStream,
  type OpenFlowStream,
  proxyTcp,
  socketFlowStream,
  splice,
  systemTimers,
  type UdpProxy,
} from '@podlink/proxy'
import {
  connectionIp,
  createDatagramDecoder,
  createFastPool,
  createFastPunchHandler,
  createFastRelayHandler,
  createFlowHandler,
  createPunchPorts,
  dialFast,
  type ExitPolicy,
  encodeDatagram,
  endpointKey,
  FAST_PUNCH_PROTOCOL,
  FAST_RELAY_PROTOCOL,
  type FastCredentials,
  type FastPeerStatus,
  type FastPool,
  type FastPunchDeps,
  type FastRelayServer,
  type FastServer,
  FLOW_PROTOCOL,
  FlowProtocolError,
  isRelayed,
  type Mesh,
  type MeshNode,
  openFastFlow,
  openFlow,
  parsePunchPorts,
  punchFastSocket,
  readFlowResponse,
  relayFastSocket,
  rstClose,
  startFastRelayServer,
  startFastServer,
} from '@podlink/tunnel'
import type { AgentConfig } from '../config/agent-config.ts'
import { rateLimited } from '../log.ts'
import { fastPortOf, internalIP, peerIndex } from '../mesh/peer-directory.ts'
import { createLeastRtt } from './least-rtt.ts'
import { resolveTarget, serviceIndex } from './resolve-target.ts'

/**
 * UDP flows live 60 s after their last datagram, and every DNS query comes from a new source port: a pod
 * resolving a few names a second holds hundreds of flows. The proxy's defaults (256 per source) dropped
 * such a client's datagrams in the lab; these bounds stay under the flow stream limit below.
 */
const UDP_LIMITS = { maxFlowsPerSource: 2048, maxFlows: 8192 }

/** libp2p allows 64 streams per protocol by default; every flow is a stream, both ways. */
const FLOW_STREAM_LIMITS = { maxInboundStreams: 4096, maxOutboundStreams: 4096 }

/**
 * Concurrent flows one peer may hold open through this exit, over all its connections; more are refused with
 * too-many-flows (counted: podlink_exit_refusals_total) and other peers are unaffected. It must stay below what one
 * connection carries (MESH_STREAMS_PER_CONNECTION, and FLOW_STREAM_LIMITS above) so that this limit, with its
 * answer and its count, is the one a flood meets, not a muxer's silent reset.
 */
export const MAX_FLOWS_PER_PEER = 1024

export interface DataflowDeps {
  readonly config: AgentConfig
  readonly log: Logger
  readonly node: MeshNode
  readonly mesh: Mesh
  view(): ClusterView
  table(): RoutingTable
  /** Told about every captured connection or new UDP flow's first datagram, by class. */
  onCaptured?(cls: 'pod' | 'service', protocol: 'tcp' | 'udp'): void
  /** The fast channel (TCP flows on their own TLS connections to directly dialled peers); null = libp2p only. */
  readonly fast?: {
    readonly credentials: FastCredentials
    readonly port: number
    /** Told of peers shut out of the fast listener (counted with the mesh's refusals). */
    onRefused?(refusal: { reason: 'wrong-psk' } | { reason: 'not-a-member'; peer: string }): void
  } | null
}

export interface Dataflow {
  start(): Promise<void>
  stop(): Promise<void>
  flows(): FlowStatus[]
  /** Bytes and open flows per peer (keyed as flows name their peer: its peer ID). */
  peerTotals(): Map<string, { flows: number; txBytes: number; rxBytes: number }>
  /** Exit refusals by reason since start (the flow handler's counters). */
  refusals(): Readonly<Record<string, number>>
  /** The fast channel per peer in use (ready sockets, flows that took one or found none, dial failures). */
  fastPeers(): Map<string, FastPeerStatus>
  /** Call after every routing change: refreshes the lookup indexes. */
  refresh(): void
  /**
   * A ping's round trip to a peer (the mesh pings each every 10 s): what judges a peer near enough for a flow to wait
   * for a fast socket is the least of the last minute, and a ping that queued behind a bulk flow must not hide it.
   */
  noteRtt(peer: string, ms: number): void
}

/** Least time the exit's answer on a fast socket is awaited before the socket counts as dead (4 RTT if longer). */
const FAST_ANSWER_MIN_MS = 750
/**
 * A flow to a near direct or punched peer (least RTT of the last minute up to FAST_WAIT_MAX_RTT_MS) that finds no
 * ready fast socket waits for one being dialled, up to max(FAST_WAIT_MIN_MS, 4 RTT): a TCP and TLS handshake is three
 * round trips (a punch one exchange more over the punched connection), a few milliseconds there, while a flow that
 * rides libp2p instead does so for its whole life at a third of the throughput (a client opening 8 connections at
 * once found 4 ready and put 5 on libp2p). Farther peers and relayed ones (a dial is a signalling exchange with the
 * relay) never wait: the refill starts at once and serves the next flow.
 */
const FAST_WAIT_MAX_RTT_MS = Number(process.env['PODLINK_FAST_WAIT_MAX_RTT_MS'] ?? 5)
const FAST_WAIT_MIN_MS = 20
const FAST_PUNCH_WAIT_MIN_MS = Number(process.env['PODLINK_FAST_PUNCH_WAIT_MS'] ?? 60)
/** "Near" is judged on the least RTT seen over the last one to two of these (least-rtt.ts). */
const MIN_RTT_WINDOW_MS = 60_000

export function createDataflow(deps: DataflowDeps): Dataflow {
  const { config, log, node, mesh } = deps
  const mark = config.dataplane.bypassMark
  // Per-connection events are hot paths: logged at most once a second each, with a count of the rest.
  const noRoute = rateLimited(log)
  const flowError = rateLimited(log)
  const flowOpened = rateLimited(log)
  const registry = new FlowRegistry({ maxFlows: 20_000 }, systemTimers)
  const selfNode = (): ReturnType<ClusterView['nodes']['get']> => deps.view().nodes.get(config.nodeName)
  const balancer = new EndpointBalancer(
    { self: config.nodeName, zone: selfNode()?.labels['topology.kubernetes.io/zone'] ?? null },
    systemTimers,
  )
  let peers = peerIndex(deps.view())
  let services = serviceIndex(deps.table())
  let tcp: TcpCapture | null = null
  const udp: UdpCapture[] = []
  let udpProxy: UdpProxy | null = null

  const fast = deps.fast ?? null
  let fastServer: FastServer | null = null
  let fastRelay: FastRelayServer | null = null
  const punchRange = fast === null ? null : parsePunchPorts(config.mesh.fastPunchPorts)
  /** Fast sockets to punched peers, each punched on demand over the punched libp2p connection (fast-punch). */
  const punch: FastPunchDeps | null =
    punchRange === null
      ? null
      : {
          ports: createPunchPorts(punchRange.first, punchRange.last),
          // The punch aims at the peer's NAT address and the port the peer punches from: right for NATs that keep
          // source ports (Linux MASQUERADE does unless another host holds that port to that same destination; our
          // observed mesh-port mapping may show a remap for exactly that reason, so it is no test). A symmetric NAT
          // picks a new port per destination: no use trying. Any other miss fails the punch and the pool backs off.
          refusal: () => {
            const m = mesh.mapping()
            if (m === null || m.kind === 'unknown') return 'our NAT mapping is not known yet'
            if (m.kind === 'symmetric') return 'we are behind a symmetric NAT'
            return null
          },
        }
  const fastPool: FastPool | null =
    fast === null
      ? null
      : createFastPool(async (peer, host, port, signal, session) => {
          const resume = session ? { session } : {}
          if (port > 0) return dialFast({ host, port, peer, credentials: fast.credentials, signal, ...resume })
          const conn = await mesh.connectionFor(peer, signal)
          // Port -1: a peer reached through a relay; two TCP legs the relay joins, TLS end to end (see fastTarget).
          if (port === -1) {
            if (!isRelayed(conn)) throw new PodlinkError('FAST_RELAY_REFUSED', 'The peer is no longer relayed')
            const socket = await relayFastSocket(node.libp2p, conn, signal)
            return dialFast({ host, port, socket, peer, credentials: fast.credentials, signal, ...resume })
          }
          // Port 0: a punched peer (see fastTarget); the punch runs over its punched libp2p connection.
          if (isRelayed(conn) || punch === null)
            throw new PodlinkError('FAST_PUNCH_REFUSED', 'Cannot punch a fast socket without a punched connection')
          const socket = await punchFastSocket(punch, conn, signal)
          return dialFast({ host, port, socket, peer, credentials: fast.credentials, signal, ...resume })
        })

  /**
   * How this flow may reach the peer's fast listener, if at all: a TCP flow to a Node that publishes a fast port,
   * over the path the mesh uses. Direct: dialled at the port, only over a connection we dialled ourselves (so the
   * address is dialable from here). Punched: port 0, each socket punched too. Relayed: port -1, host the relay's IP.
   */
  const fastTarget = (
    peer: string,
    conn: Connection,
    path: string | undefined,
    protocol: string,
  ): { host: string; port: number } | null => {
    if (fastPool === null || protocol !== 'tcp') return null
    const host = connectionIp(conn)
    const port = fastPortOf(deps.view().nodes.get(nodeOfPeer(peer)))
    if (host === undefined || port === null) return null
    if (isRelayed(conn)) return path === 'relay' ? { host, port: -1 } : null
    if (path === 'punched') return punch !== null ? { host, port: 0 } : null
    return path === 'direct' && conn.direction === 'outbound' ? { host, port } : null
  }

  /** Per peer, the least RTT of the last minute or two, from the mesh's pings (noteRtt). */
  const minRtt = createLeastRtt(MIN_RTT_WINDOW_MS)

  const openFlowStream: OpenFlowStream = async (peer, request, { signal }) => {
    const conn: Connection = await mesh.connectionFor(peer, signal)
    const status = fastPool === null ? undefined : mesh.peer(peer)
    const target = fastTarget(peer, conn, status?.path, request.protocol)
    const rttMs = minRtt.least(peer)
    const waitMs =
      target !== null && target.port >= 0 && rttMs != null && rttMs <= FAST_WAIT_MAX_RTT_MS
        ? Math.max(target.port === 0 ? FAST_PUNCH_WAIT_MIN_MS : FAST_WAIT_MIN_MS, 4 * rttMs)
        : 0
    const socket = target === null ? null : await fastPool!.takeOrWait(peer, target.host, target.port, waitMs)
    if (socket !== null) {
      // A ready socket can be dead without knowing it: reset, or silently dropped by a NAT that forgot its mapping
      // (a stateful router drops the peer's packets). So the exit's answer gets a deadline of its own, a few round
      // trips, well inside the flow's connect timeout.
      const deadlineMs = Math.max(FAST_ANSWER_MIN_MS, 4 * (status?.rttMs ?? FAST_ANSWER_MIN_MS))
      const answerSignal = AbortSignal.any([signal, AbortSignal.timeout(deadlineMs)])
      const answer = openFastFlow(socket, request, { signal: answerSignal }).catch((err: unknown) => {
        if (signal.aborted) throw err
        // Dead (reset, closed or silent before any answer): drop its siblings, and let the proxy try this same
        // endpoint once more (FLOW_CHANNEL_STALE), which then rides libp2p or a fresh socket.
        fastPool!.stale(peer)
        socket.destroy()
        throw new PodlinkError(
          'FLOW_CHANNEL_STALE',
          `The fast socket to ${nodeOfPeer(peer)} gave no answer in ${deadlineMs} ms or died`,
          { cause: err },
        )
      })
      return { stream: socketFlowStream(socket, { reset: rstClose }), answer, channel: 'fast' }
    }
    flowOpened(
      'debug',
      { peer, conn: conn.id, addr: conn.remoteAddr.toString(), limited: conn.limits != null },
      'flow opened',
    )
    const stream = await openFlow(conn, request, { signal })
    return { stream: messageStreamFlowStream(stream), answer: readFlowResponse(stream, { signal }), channel: 'libp2p' }
  }
  const peerOf = (nodeName: string): string | null => peers.get(nodeName) ?? null
  /** A peer ID's node name for logs (the ID itself when no Node claims it). */
  const nodeOfPeer = (peerId: string): string => {
    for (const [name, id] of peers) if (id === peerId) return name
    return peerId
  }
  const pathOf = (peer: string) => mesh.peer(peer)?.path ?? 'none'
  const framing = { encode: encodeDatagram, createDecoder: createDatagramDecoder }

  /**
   * The exit's connection to a pod. Towards a pod this agent closed more than 2,000 connections to in the last
   * minute, from a local port of its own choosing (exit-ports.ts: it may take over a TIME_WAIT port, which the
   * kernel's own choice skips), held while the socket lives; else the kernel chooses. A port another socket holds is
   * drawn again; when none binds, and on the exit's last attempt (the kernel refuses to take over a TIME_WAIT
   * without TCP timestamps: EADDRNOTAVAIL each time), the kernel chooses.
   */
  const exitPorts = createExitPorts()
  const connectPod = (ip: string, port: number, attempt = 1): net.Socket => {
    const destination = `${ip}:${port}`
    const counted = (socket: net.Socket): net.Socket => socket.once('close', () => exitPorts.closed(destination))
    if (attempt >= CONNECT_ATTEMPTS) return counted(createMarkedTcpConnection({ host: ip, port, mark }))
    for (let draw = 0; draw < 4; draw++) {
      const localPort = exitPorts.pick(destination)
      if (localPort === null) break
      let socket: net.Socket
      try {
        socket = createMarkedTcpConnection({ host: ip, port, mark, localPort })
      } catch (err) {
        if (err instanceof PodlinkError && err.code === 'DATAPLANE_PORT_IN_USE') continue
        throw err
      }
      exitPorts.hold(destination, localPort)
      socket.once('close', () => exitPorts.release(destination, localPort))
      return counted(socket)
    }
    return counted(createMarkedTcpConnection({ host: ip, port, mark }))
  }

  /** The exit's parts shared by both channels; `channel` names the one in the log of a flow that failed. */
  const exitDeps = (channel: 'libp2p' | 'fast') => ({
    channel,
    connectPod,
    createUdpSocket: (family: 4 | 6) => createMarkedUdpSocket({ family, mark }),
    framing,
    refusal: (reason: ConnectRefusal, message: string, cause: unknown) =>
      new FlowProtocolError(reason, message, { cause }),
    registry,
    timers: systemTimers,
    onFlowEnd: (flow: ExitFlow, r: { aToB: number; bToA: number; error: Error | null }) => {
      if (r.error)
        flowError(
          'info',
          {
            side: 'exit',
            channel,
            peer: nodeOfPeer(flow.peer),
            dst: endpointId(flow.header.dst),
            podToPeer: r.aToB,
            peerToPod: r.bToA,
            err: r.error.message,
          },
          'flow ended with an error',
        )
    },
  })
  const exit = createFlowExit<Stream>({ ...exitDeps('libp2p'), adapt: (s) => messageStreamFlowStream(s) })
  // UDP never takes the fast channel (the sender keeps it on libp2p), but the exit would carry it all the same.
  const socketExit = createFlowExit<net.Socket>({
    ...exitDeps('fast'),
    adapt: (s) => socketFlowStream(s, { reset: rstClose }),
  })
  const handler = createFlowHandler({ policy: exitPolicy, maxFlowsPerPeer: MAX_FLOWS_PER_PEER }, { exit, socketExit })

  /**
   * What a peer may reach through us: our pods and the endpoints we serve; never our own addresses. Read per flow,
   * so built once per routing table and own Node (both are replaced, never changed in place, when the cluster
   * changes): the exit compiles a policy's ranges once per policy object, and building it per flow scanned every
   * Service and compiled the ranges again on each new connection (~0.1 ms of the exit's CPU per flow).
   */
  let policyCache: { table: unknown; self: unknown; policy: ExitPolicy } | null = null
  function exitPolicy(): ExitPolicy {
    const table = deps.table()
    const self = selfNode()
    if (policyCache?.table === table && policyCache.self === self) return policyCache.policy
    const served = new Set<string>()
    for (const s of table.services) {
      for (const e of s.endpoints) if (e.node === config.nodeName) served.add(endpointKey(s.protocol, e.ip, e.port))
    }
    const policy: ExitPolicy = {
      ownPodCIDRs: [...(self?.podCIDRs ?? [])],
      servedEndpoints: served,
      forbidden: [
        ...(self?.addresses.filter((a) => a.type !== 'Hostname').map((a) => a.address) ?? []),
        '169.254.0.0/16',
        '127.0.0.0/8',
        '::1/128',
      ],
    }
    policyCache = { table, self, policy }
    return policy
  }

  return {
    async start() {
      await node.libp2p.handle(
        FLOW_PROTOCOL,
        (stream, connection) => handler.handle(stream, connection),
        FLOW_STREAM_LIMITS,
      )
      if (fast !== null) {
        fastServer = await startFastServer(
          {
            port: fast.port,
            credentials: fast.credentials,
            isMember: (peer) => node.isMember(peer),
            onRefused: (r) => fast.onRefused?.(r),
          },
          (socket, peer) => void handler.handleSocket(socket, peer),
        )
        log.info({ port: fastServer.port }, 'fast channel listening')
        const server = fastServer
        if (node.relayServer) {
          fastRelay = await startFastRelayServer({
            port: config.mesh.fastRelayPort,
            // Plain TCP legs carrying the ends' TLS: joined socket to socket, reads lent (no allocation per read).
            splice: (a, b) => {
              void splice(socketFlowStream(a, { reset: rstClose }), socketFlowStream(b, { reset: rstClose }), {
                timers: systemTimers,
                idleTimeoutMs: 0,
              }).done
            },
          })
          log.info({ port: fastRelay.port }, 'fast relay listening')
        }
        await node.libp2p.handle(
          FAST_RELAY_PROTOCOL,
          createFastRelayHandler({
            libp2p: node.libp2p,
            relay: () => fastRelay,
            adopt: (socket) => server.adopt(socket),
            accepting: () => true,
          }),
        )
        if (punch !== null) {
          await node.libp2p.handle(
            FAST_PUNCH_PROTOCOL,
            createFastPunchHandler(punch, (socket) => server.adopt(socket)),
          )
        }
      }
      if (!config.dataplane.enabled) return
      tcp = await createTcpCapture({ port: config.dataplane.tcpPort }, (c) => {
        const target = resolveTarget(deps.table(), services, 'tcp', c.originalDst.address, c.originalDst.port)
        if (!target) {
          noRoute(
            'warn',
            { dst: `${c.originalDst.address}:${c.originalDst.port}` },
            'captured a connection with no route or service: reset',
          )
          c.socket.resetAndDestroy()
          return
        }
        deps.onCaptured?.(target.kind, 'tcp')
        void proxyTcp(
          socketFlowStream(c.socket),
          {
            source: { ip: c.source.address, port: c.source.port },
            destination: { ip: c.originalDst.address, port: c.originalDst.port },
            target,
          },
          {
            balancer,
            registry,
            timers: systemTimers,
            peerOf,
            pathOf,
            openFlowStream,
            connectDirect: (ip, port) => createMarkedTcpConnection({ host: ip, port, mark }),
          },
        ).then((outcome) => {
          if (outcome.error)
            flowError(
              'info',
              {
                side: 'entry',
                dst: `${c.originalDst.address}:${c.originalDst.port}`,
                endpoint: outcome.endpoint,
                tx: outcome.txBytes,
                rx: outcome.rxBytes,
                err: outcome.error.message,
              },
              'flow ended with an error',
            )
        })
      })
      udpProxy = createUdpProxy(
        {
          balancer,
          registry,
          timers: systemTimers,
          framing,
          resolve: (dst) => {
            const target = resolveTarget(deps.table(), services, 'udp', dst.ip, dst.port)
            if (target) deps.onCaptured?.(target.kind, 'udp')
            return target
          },
          peerOf,
          openFlowStream,
          createDirectSocket: (family) => createMarkedUdpSocket({ family, mark }),
        },
        UDP_LIMITS,
      )
      const proxy = udpProxy
      udp.push(
        createUdpCapture({ port: config.dataplane.udpPort, family: 4, bypassMark: mark }, (d) => proxy.handle(d)),
      )
      try {
        udp.push(
          createUdpCapture({ port: config.dataplane.udpPort, family: 6, bypassMark: mark }, (d) => proxy.handle(d)),
        )
      } catch (err) {
        log.warn({ err: String(err) }, 'no IPv6 UDP capture on this node')
      }
      log.info({ tcpPort: tcp.port, udpPort: config.dataplane.udpPort }, 'capture listeners ready')
    },
    async stop() {
      await tcp?.close()
      await Promise.all(udp.map((u) => u.close()))
      fastPool?.close()
      if (punch !== null && fastServer !== null) await node.libp2p.unhandle(FAST_PUNCH_PROTOCOL).catch(() => undefined)
      if (fastServer !== null) await node.libp2p.unhandle(FAST_RELAY_PROTOCOL).catch(() => undefined)
      await fastRelay?.close()
      await fastServer?.close()
      await node.libp2p.unhandle(FLOW_PROTOCOL)
    },
    flows: () => registry.list(),
    peerTotals: () => registry.peers(),
    refusals: () => handler.refusals(),
    fastPeers: () => fastPool?.status() ?? new Map(),
    noteRtt(peer, ms) {
      minRtt.add(peer, ms)
    },
    refresh() {
      peers = peerIndex(deps.view())
      services = serviceIndex(deps.table())
      if (fastPool !== null) {
        const known = new Set(peers.values())
        for (const peer of fastPool.status().keys()) if (!known.has(peer)) fastPool.forget(peer)
        minRtt.retain(known)
      }
    },
  }
}

export { internalIP }
