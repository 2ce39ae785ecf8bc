/**
 * The agent's Prometheus metrics. Two sources, by design:
 * - events the agent reports as they happen (path changes, hole punches, RTT samples, rule syncs, captured
 *   connections, exit refusals): counters and histograms that only this object holds;
 * - the AgentStatus at scrape time (bytes, flows, relays, view, conflicts, rule sync state): gauges and
 *   status-kept totals, rebuilt on each render so peers that left disappear.
 * Labels are bounded: `peer` and `relay` are node names (one per cluster node), every other label takes a
 * value from a fixed list (anything else is counted as `other`). No per-flow or per-address label exists.
 */
import type { AgentStatus, ConflictKind, L4Protocol, PathKind, PeerStatus } from '@podlink/core'
import { FLOW_REFUSALS } from '@podlink/tunnel'
import { createMetricRegistry } from './metric-registry.ts'

const CONFLICT_KINDS: readonly ConflictKind[] = [
  'overlapping-pod-cidr',
  'missing-pod-cidr',
  'invalid-pod-cidr',
  'duplicate-peer-id',
  'invalid-annotation',
]
/** Why a hole punch ended the way it did; anything else is recorded as `other`. */
export const HOLEPUNCH_REASONS = [
  'none',
  'symmetric-nat',
  'timeout',
  'no-public-address',
  'refused',
  'relay-unavailable',
  'other',
] as const
export type HolepunchReason = (typeof HOLEPUNCH_REASONS)[number]
/**
 * Every refusal the exit's flow handler answers (tunnel's FLOW_REFUSALS: policy, limits, bad input), so a flood's
 * too-many-flows or a slow-loris's header-timeout is counted by name; anything else is recorded as `other`.
 */
export const EXIT_REFUSAL_REASONS = [...FLOW_REFUSALS, 'other'] as const
/** Why an inbound peer was shut out before any stream (tunnel's PeerRefusal); anything else is `other`. */
export const PEER_REFUSAL_REASONS = ['wrong-psk', 'not-a-member', 'other'] as const
export type CaptureClass = 'pod' | 'service'

/** RTT buckets (s): LAN sub-millisecond to intercontinental relays. */
const RTT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
/** kube-proxy's sync latency buckets: 1 ms doubling to ~16 s. */
const SYNC_BUCKETS = Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i)

const bounded = <T extends string>(allowed: readonly T[], v: string): T =>
  allowed.includes(v as T) ? (v as T) : ('other' as T)
const seconds = (iso: string | null): number | null => (iso === null ? null : Date.parse(iso) / 1000)

export interface AgentMetrics {
  /** The exposition for one scrape: recorded events plus everything `status` holds (and the loop's delay). */
  render(status: AgentStatus, loop?: { maxMs: number; p99Ms: number }): string
  /** A peer's path changed (also derived by `notePeers`; call one or the other for a given change). */
  pathChanged(from: PathKind, to: PathKind): void
  /** Diffs peers against the previous call and counts each path change; call it whenever peers are recomputed. */
  notePeers(peers: readonly PeerStatus[]): void
  holepunchAttempted(): void
  holepunchFinished(result: 'success' | 'failure', reason: HolepunchReason | string): void
  /** One RTT sample to a peer (ping, keepalive, handshake), in milliseconds. */
  peerRtt(ms: number): void
  /** One capture-rule sync took this long (success or failure; failures are counted from the status). */
  ruleSyncObserved(durationMs: number): void
  connectionCaptured(cls: CaptureClass, protocol: L4Protocol): void
  exitRefused(reason: string): void
  /** An inbound peer was shut out: it proved another swarm key, or its peer ID is on no Node. */
  peerRefused(reason: string): void
}

export function createAgentMetrics(): AgentMetrics {
  const r = createMetricRegistry()
  const bytes = r.counter('podlink_peer_bytes_total', 'Bytes carried over the mesh per peer, path and direction.', [
    'peer',
    'path',
    'direction',
  ])
  const flows = r.gauge('podlink_peer_flows', 'Flows open to each peer, by its current path.', ['peer', 'path'])
  const fastFlows = r.counter(
    'podlink_fast_channel_flows_total',
    'TCP flows to a peer with a fast channel: took a ready connection (taken), found none ready and waited for one being dialled (waited), or went without and used a libp2p stream (missed).',
    ['peer', 'result'],
  )
  const fastReady = r.gauge('podlink_fast_channel_ready', 'Proven fast-channel connections kept ready, per peer.', [
    'peer',
  ])
  const fastFailures = r.gauge(
    'podlink_fast_channel_dial_failures',
    'Fast-channel dials to the peer that failed in a row (0 once one succeeds); see podlink peers for the error.',
    ['peer'],
  )
  const pathChanges = r.counter('podlink_path_changes_total', 'Peer path changes, by old and new path.', ['from', 'to'])
  const punchAttempts = r.counter('podlink_holepunch_attempts_total', 'Hole punches started.')
  const punchResults = r.counter('podlink_holepunch_results_total', 'Hole punches finished, by result and reason.', [
    'result',
    'reason',
  ])
  const reservations = r.gauge(
    'podlink_relay_reservations',
    '1 when a reservation is held on the relay, 0 when it is not.',
    ['relay'],
  )
  const rtt = r.histogram('podlink_peer_rtt_seconds', 'Round-trip time samples to peers.', RTT_BUCKETS)
  const syncDuration = r.histogram(
    'podlink_rule_sync_duration_seconds',
    'Capture rule sync (iptables-restore) latency.',
    SYNC_BUCKETS,
  )
  const syncFailures = r.counter('podlink_rule_sync_failures_total', 'Capture rule syncs that failed.')
  const lastSync = r.gauge(
    'podlink_rule_last_sync_timestamp_seconds',
    'When the capture rules were last synced successfully.',
  )
  const captured = r.counter(
    'podlink_captured_connections_total',
    'Connections and UDP associations captured, by destination class and protocol.',
    ['class', 'protocol'],
  )
  const refusals = r.counter('podlink_exit_refusals_total', 'Flows from peers this node refused to carry, by reason.', [
    'reason',
  ])
  const peerRefusals = r.counter(
    'podlink_peer_refusals_total',
    'Inbound peers shut out before any stream, by reason (wrong-psk, not-a-member).',
    ['reason'],
  )
  const stale = r.gauge('podlink_view_stale', '1 when the cluster view comes from the on-disk cache (API unreachable).')
  const viewSync = r.gauge(
    'podlink_view_last_sync_timestamp_seconds',
    'When the cluster view was last synced with the API server.',
  )
  const conflicts = r.gauge('podlink_conflicts', 'Routing conflicts by kind.', ['kind'])
  const loopDelay = r.gauge(
    'podlink_event_loop_delay_seconds',
    "The agent's event loop delay since the previous scrape (max and p99).",
    ['quantile'],
  )

  // Series that exist from the start read 0 rather than absent, so rate() and alerts work from the first scrape.
  punchAttempts.inc({}, 0)
  syncFailures.set({}, 0)
  for (const reason of EXIT_REFUSAL_REASONS) refusals.inc({ reason }, 0)
  for (const reason of PEER_REFUSAL_REASONS) peerRefusals.inc({ reason }, 0)

  const lastPath = new Map<string, PathKind>()
  const pathChanged = (from: PathKind, to: PathKind): void => pathChanges.inc({ from, to })

  return {
    pathChanged,
    notePeers(peers) {
      const seen = new Set<string>()
      for (const p of peers) {
        seen.add(p.node)
        const before = lastPath.get(p.node)
        if (before !== undefined && before !== p.path) pathChanged(before, p.path)
        lastPath.set(p.node, p.path)
      }
      for (const n of [...lastPath.keys()]) if (!seen.has(n)) lastPath.delete(n)
    },
    holepunchAttempted: () => punchAttempts.inc(),
    holepunchFinished: (result, reason) => punchResults.inc({ result, reason: bounded(HOLEPUNCH_REASONS, reason) }),
    peerRtt: (ms) => rtt.observe({}, ms / 1000),
    ruleSyncObserved: (ms) => syncDuration.observe({}, ms / 1000),
    connectionCaptured: (cls, protocol) => captured.inc({ class: cls, protocol }),
    exitRefused: (reason) => refusals.inc({ reason: bounded(EXIT_REFUSAL_REASONS, reason) }),
    peerRefused: (reason) => peerRefusals.inc({ reason: bounded(PEER_REFUSAL_REASONS, reason) }),
    render(s, loop) {
      if (loop !== undefined) {
        loopDelay.set({ quantile: 'max' }, loop.maxMs / 1000)
        loopDelay.set({ quantile: '0.99' }, loop.p99Ms / 1000)
      }
      flows.clear()
      fastReady.clear()
      fastFailures.clear()
      reservations.clear()
      conflicts.clear()
      for (const p of s.peers) {
        bytes.set({ peer: p.node, path: p.path, direction: 'tx' }, p.txBytes)
        bytes.set({ peer: p.node, path: p.path, direction: 'rx' }, p.rxBytes)
        flows.set({ peer: p.node, path: p.path }, p.flows)
        if (p.fast) {
          fastFlows.set({ peer: p.node, result: 'taken' }, p.fast.flows - (p.fast.waited ?? 0))
          fastFlows.set({ peer: p.node, result: 'waited' }, p.fast.waited ?? 0)
          fastFlows.set({ peer: p.node, result: 'missed' }, p.fast.missed)
          fastReady.set({ peer: p.node }, p.fast.ready)
          fastFailures.set({ peer: p.node }, p.fast.failures)
        }
      }
      for (const relay of s.relays) reservations.set({ relay: relay.node }, relay.reserved ? 1 : 0)
      syncFailures.set({}, s.dataplane.syncFailures)
      const synced = seconds(s.dataplane.lastSyncAt)
      if (synced !== null) lastSync.set({}, synced)
      stale.set({}, s.view.stale ? 1 : 0)
      const viewAt = seconds(s.view.lastSyncAt)
      if (viewAt !== null) viewSync.set({}, viewAt)
      for (const kind of CONFLICT_KINDS) conflicts.set({ kind }, s.conflicts.filter((c) => c.kind === kind).length)
      return r.render()
    },
  }
}
