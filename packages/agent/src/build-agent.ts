/**
 * The only place where concrete parts meet: identity, mesh, cluster view, LAN membership, routing and
 * the status API. Services start in order and stop in reverse.
 */
import { chmodSync, mkdirSync } from 'node:fs'
import type { AgentStatus, ClusterView, Conflict, Logger, PeerStatus, RoutingTable } from '@podlink/core'
import { computeRouting, PEER_ID_ANNOTATION, peerIdShapeError } from '@podlink/routing'
import { createTunnelNode, loadOrCreateIdentityKey, loadSwarmKey, type TunnelNode } from '@podlink/tunnel'
import type { ClusterSource } from './cluster-source.ts'
import type { AgentConfig } from './config/agent-config.ts'
import { LanProber, type LanTarget } from './lan/lan-prober.ts'
import { handleWhoami, libp2pLanProbe } from './lan/libp2p-lan-probe.ts'
import { type StatusServer, startStatusServer } from './status/status-server.ts'

export const MESH_PORT_ANNOTATION = 'podlink.io/mesh-port'
export const AGENT_VERSION = '0.1.0'

export interface AgentDeps {
  readonly log: Logger
  readonly cluster: ClusterSource
}

export interface Agent {
  start(): Promise<void>
  stop(): Promise<void>
  status(): AgentStatus
}

export function buildAgent(config: AgentConfig, deps: AgentDeps): Agent {
  const { log, cluster } = deps
  const startedAt = new Date().toISOString()
  let tunnel: TunnelNode | null = null
  let prober: LanProber | null = null
  let statusServer: StatusServer | null = null
  let table: RoutingTable = { routes: [], services: [], conflicts: [] }
  const reportedConflicts = new Set<string>()
  let stopping = false
  let recomputing: Promise<void> | null = null
  let again = false
  let refresh: NodeJS.Timeout | null = null

  /** Probes run beside routing, never in front of it: a route is never held back by a slow dial. */
  function probeLan(): void {
    if (!prober || stopping) return
    prober.evaluate(lanTargets(cluster.view())).then(
      (changed) => {
        if (changed) scheduleRecompute()
      },
      (err: unknown) => log.warn({ err: String(err) }, 'lan probe round failed'),
    )
  }

  function lanTargets(view: ClusterView): LanTarget[] {
    const targets: LanTarget[] = []
    for (const node of view.nodes.values()) {
      if (node.name === config.nodeName) continue
      const peerId = node.annotations[PEER_ID_ANNOTATION]
      const ip = node.addresses.find((a) => a.type === 'InternalIP')?.address
      if (!peerId || peerIdShapeError(peerId) !== null || !ip) continue
      const port = Number(node.annotations[MESH_PORT_ANNOTATION] ?? config.mesh.listenPort)
      targets.push({
        node: node.name,
        peerId,
        internalIP: ip,
        port: Number.isInteger(port) && port > 0 && port < 65536 ? port : config.mesh.listenPort,
      })
    }
    return targets
  }

  function members(view: ClusterView): string[] {
    const ids: string[] = []
    for (const node of view.nodes.values()) {
      const id = node.annotations[PEER_ID_ANNOTATION]
      if (id && node.name !== config.nodeName && peerIdShapeError(id) === null) ids.push(id)
    }
    return ids
  }

  async function recompute(): Promise<void> {
    const view = cluster.view()
    if (tunnel) await tunnel.setMembers(members(view))
    probeLan()
    table = computeRouting({
      view,
      self: config.nodeName,
      lanPeers: prober?.lanPeers() ?? new Set(),
      kubeProxy: config.kube.kubeProxy,
    })
    reportConflicts(table.conflicts)
  }

  /** Coalesces change bursts: at most one recompute runs, and one more follows if changes came meanwhile. */
  function scheduleRecompute(): void {
    if (stopping) return
    if (recomputing) {
      again = true
      return
    }
    recomputing = (async () => {
      do {
        again = false
        try {
          await recompute()
        } catch (err) {
          log.error({ err: String(err) }, 'routing recompute failed')
        }
      } while (again && !stopping)
      recomputing = null
    })()
  }

  function reportConflicts(conflicts: readonly Conflict[]): void {
    for (const c of conflicts) {
      const key = `${c.kind}|${c.nodes.join(',')}|${c.cidr ?? ''}|${c.peerId ?? ''}`
      if (reportedConflicts.has(key)) continue
      reportedConflicts.add(key)
      log.warn({ conflict: c.kind, nodes: c.nodes }, c.reason)
      cluster.recordEvent({ node: config.nodeName, type: 'Warning', reason: eventReason(c), message: c.reason })
    }
  }

  function peers(): PeerStatus[] {
    const view = cluster.view()
    const out: PeerStatus[] = []
    for (const t of lanTargets(view)) {
      const verdict = prober?.verdict(t.node) ?? null
      out.push({
        node: t.node,
        peerId: t.peerId,
        lan: verdict?.lan ?? false,
        path: verdict?.lan ? 'lan' : 'none',
        relay: null,
        rttMs: null,
        addrs: [`/ip4/${t.internalIP}/tcp/${t.port}`],
        txBytes: 0,
        rxBytes: 0,
        flows: 0,
        since: null,
        reason: verdict?.reason ?? 'not probed yet',
      })
    }
    return out
  }

  return {
    async start() {
      mkdirSync(config.stateDir, { recursive: true, mode: 0o700 })
      chmodSync(config.stateDir, 0o700)
      const privateKey = await loadOrCreateIdentityKey(`${config.stateDir}/identity.key`)
      const psk = await loadSwarmKey(config.mesh.pskFile)
      const other = config.mesh.encrypter === 'tls' ? 'noise' : 'tls'
      tunnel = await createTunnelNode(
        {
          listen: [`/ip4/0.0.0.0/tcp/${config.mesh.listenPort}`],
          publicRanges: config.mesh.publicRanges,
          encrypters: [config.mesh.encrypter, other],
          psk: { key: psk, mode: config.mesh.pskMode },
        },
        { privateKey },
      )
      await handleWhoami(tunnel)
      log.info({ peer: tunnel.peerId, port: config.mesh.listenPort }, 'mesh listening')
      cluster.onChange(scheduleRecompute)
      await cluster.start()
      const self = cluster.view().nodes.get(config.nodeName)
      const selfIP = self?.addresses.find((a) => a.type === 'InternalIP')?.address
      if (!selfIP)
        log.warn({}, `node ${config.nodeName} has no InternalIP in the view: LAN membership cannot be proven`)
      prober = new LanProber(libp2pLanProbe(tunnel), log, { selfIP: selfIP ?? '' })
      cluster.publishAnnotations({
        [PEER_ID_ANNOTATION]: tunnel.peerId,
        [MESH_PORT_ANNOTATION]: String(config.mesh.listenPort),
      })
      await recompute()
      statusServer = await startStatusServer(config.statusSocket, () => this.status())
      // The prober decides what is due (failed probes soon, proven ones every minute); this only wakes it.
      refresh = setInterval(probeLan, 1000)
      refresh.unref()
      log.info({ routes: table.routes.length, conflicts: table.conflicts.length }, 'agent ready')
    },
    async stop() {
      stopping = true
      if (refresh) clearInterval(refresh)
      await statusServer?.close()
      await recomputing
      await cluster.stop()
      await tunnel?.stop()
    },
    status(): AgentStatus {
      return {
        node: config.nodeName,
        peerId: tunnel?.peerId ?? null,
        version: AGENT_VERSION,
        startedAt,
        view: cluster.status(),
        routes: table.routes,
        services: table.services,
        conflicts: table.conflicts,
        peers: peers(),
        relays: [],
        flows: [],
        dataplane: {
          enabled: false,
          iptablesMode: null,
          lastSyncAt: null,
          lastSyncMs: null,
          syncFailures: 0,
          ruleCount: 0,
          capturedCidrs: 0,
          capturedServices: 0,
          healthy: true,
          lastError: null,
        },
        health: {
          ready: cluster.status().synced,
          healthy: true,
          reasons: cluster.status().synced ? [] : ['cluster view not synced yet'],
        },
      }
    },
  }
}

function eventReason(c: Conflict): string {
  switch (c.kind) {
    case 'overlapping-pod-cidr':
      return 'PodCIDRConflict'
    case 'missing-pod-cidr':
      return 'PodCIDRMissing'
    case 'invalid-pod-cidr':
      return 'PodCIDRInvalid'
    case 'duplicate-peer-id':
      return 'PeerIDConflict'
    default:
      return 'InvalidAnnotation'
  }
}
