import { FLOW_REFUSALS } from '@podlink/tunnel'
import { describe, expect, it } from 'vitest'
import { createAgentMetrics } from './agent-metrics.ts'
import { createMetricRegistry } from './metric-registry.ts'
import { observeFixture } from './testing/observe-fixture.ts'
import { parsePrometheusText, sampleValue } from './testing/parse-prometheus-text.ts'

const REQUIRED = [
  'podlink_peer_bytes_total',
  'podlink_peer_flows',
  'podlink_path_changes_total',
  'podlink_holepunch_attempts_total',
  'podlink_holepunch_results_total',
  'podlink_relay_reservations',
  'podlink_peer_rtt_seconds',
  'podlink_rule_sync_duration_seconds',
  'podlink_rule_sync_failures_total',
  'podlink_rule_last_sync_timestamp_seconds',
  'podlink_captured_connections_total',
  'podlink_exit_refusals_total',
  'podlink_view_stale',
  'podlink_view_last_sync_timestamp_seconds',
  'podlink_conflicts',
]

describe('createAgentMetrics', () => {
  it('declares every podlink metric with its type, and the output parses strictly', () => {
    const fams = parsePrometheusText(createAgentMetrics().render(observeFixture))
    for (const name of REQUIRED) expect(fams.has(name), name).toBe(true)
    expect(fams.get('podlink_peer_rtt_seconds')!.type).toBe('histogram')
    expect(fams.get('podlink_peer_bytes_total')!.type).toBe('counter')
    expect(fams.get('podlink_view_stale')!.type).toBe('gauge')
  })

  it.each([
    ['podlink_peer_bytes_total', { peer: 'edge-b1', path: 'direct', direction: 'tx' }, 1000],
    ['podlink_peer_bytes_total', { peer: 'edge-b1', path: 'direct', direction: 'rx' }, 5000],
    ['podlink_peer_bytes_total', { peer: 'edge-c1', path: 'relay', direction: 'rx' }, 20],
    ['podlink_peer_flows', { peer: 'edge-b1', path: 'direct' }, 3],
    ['podlink_fast_channel_flows_total', { peer: 'edge-b1', result: 'taken' }, 40],
    ['podlink_fast_channel_flows_total', { peer: 'edge-b1', result: 'missed' }, 7],
    ['podlink_fast_channel_ready', { peer: 'edge-b1' }, 2],
    ['podlink_fast_channel_dial_failures', { peer: 'edge-b1' }, 0],
    ['podlink_relay_reservations', { relay: 'edge-b1' }, 1],
    ['podlink_rule_sync_failures_total', {}, 2],
    ['podlink_rule_last_sync_timestamp_seconds', {}, Date.parse('2025-06-01T11:59:50Z') / 1000],
    ['podlink_view_stale', {}, 0],
    ['podlink_view_last_sync_timestamp_seconds', {}, Date.parse('2025-06-01T11:59:55Z') / 1000],
    ['podlink_conflicts', { kind: 'overlapping-pod-cidr' }, 1],
    ['podlink_conflicts', { kind: 'duplicate-peer-id' }, 0],
    ['podlink_holepunch_attempts_total', {}, 0],
    ['podlink_exit_refusals_total', { reason: 'not-my-pod' }, 0],
    ['podlink_peer_refusals_total', { reason: 'wrong-psk' }, 0],
  ] as const)('reads %s %j = %d from the status', (name, labels, value) => {
    const fams = parsePrometheusText(createAgentMetrics().render(observeFixture))
    expect(sampleValue(fams, name, labels)).toBe(value)
  })

  it('counters move with events; labels outside the fixed lists become "other"', () => {
    const m = createAgentMetrics()
    m.holepunchAttempted()
    m.holepunchAttempted()
    m.holepunchFinished('success', 'none')
    m.holepunchFinished('failure', 'symmetric-nat')
    m.holepunchFinished('failure', 'peer said 10.1.2.3:4567 is busy')
    m.pathChanged('relay', 'punched')
    m.connectionCaptured('service', 'tcp')
    m.connectionCaptured('service', 'tcp')
    m.connectionCaptured('pod', 'udp')
    m.exitRefused('not-my-pod')
    m.exitRefused('too-many-flows')
    m.exitRefused('something new')
    m.peerRefused('wrong-psk')
    m.peerRefused('not-a-member')
    m.peerRefused('not-a-member')
    const f = parsePrometheusText(m.render(observeFixture))
    expect(sampleValue(f, 'podlink_holepunch_attempts_total')).toBe(2)
    expect(sampleValue(f, 'podlink_holepunch_results_total', { result: 'failure', reason: 'symmetric-nat' })).toBe(1)
    expect(sampleValue(f, 'podlink_holepunch_results_total', { result: 'failure', reason: 'other' })).toBe(1)
    expect(sampleValue(f, 'podlink_path_changes_total', { from: 'relay', to: 'punched' })).toBe(1)
    expect(sampleValue(f, 'podlink_captured_connections_total', { class: 'service', protocol: 'tcp' })).toBe(2)
    expect(sampleValue(f, 'podlink_captured_connections_total', { class: 'pod', protocol: 'udp' })).toBe(1)
    expect(sampleValue(f, 'podlink_exit_refusals_total', { reason: 'not-my-pod' })).toBe(1)
    expect(sampleValue(f, 'podlink_exit_refusals_total', { reason: 'too-many-flows' })).toBe(1)
    expect(sampleValue(f, 'podlink_exit_refusals_total', { reason: 'other' })).toBe(1)
    expect(sampleValue(f, 'podlink_peer_refusals_total', { reason: 'wrong-psk' })).toBe(1)
    expect(sampleValue(f, 'podlink_peer_refusals_total', { reason: 'not-a-member' })).toBe(2)
  })

  it('shows every refusal the flow handler answers as its own series from the start, at zero', () => {
    const f = parsePrometheusText(createAgentMetrics().render(observeFixture))
    for (const reason of [...FLOW_REFUSALS, 'other'])
      expect(sampleValue(f, 'podlink_exit_refusals_total', { reason }), reason).toBe(0)
  })

  it('histograms count samples into cumulative buckets, in seconds', () => {
    const m = createAgentMetrics()
    for (const ms of [0.3, 20, 60, 3000]) m.peerRtt(ms)
    m.ruleSyncObserved(12)
    const f = parsePrometheusText(m.render(observeFixture))
    expect(sampleValue(f, 'podlink_peer_rtt_seconds_count')).toBe(4)
    expect(sampleValue(f, 'podlink_peer_rtt_seconds_bucket', { le: '0.0005' })).toBe(1)
    expect(sampleValue(f, 'podlink_peer_rtt_seconds_bucket', { le: '0.025' })).toBe(2)
    expect(sampleValue(f, 'podlink_peer_rtt_seconds_bucket', { le: '2.5' })).toBe(3)
    expect(sampleValue(f, 'podlink_peer_rtt_seconds_bucket', { le: '+Inf' })).toBe(4)
    expect(sampleValue(f, 'podlink_peer_rtt_seconds_sum')).toBeCloseTo(3.0803, 6)
    expect(sampleValue(f, 'podlink_rule_sync_duration_seconds_bucket', { le: '0.016' })).toBe(1)
    expect(sampleValue(f, 'podlink_rule_sync_duration_seconds_bucket', { le: '0.008' })).toBe(0)
  })

  it('notePeers counts each path change once, and forgets peers that left', () => {
    const m = createAgentMetrics()
    const peers = observeFixture.peers
    m.notePeers(peers)
    m.notePeers(peers)
    m.notePeers(peers.map((p) => (p.node === 'edge-c1' ? { ...p, path: 'punched', relay: null } : p)))
    m.notePeers(peers.filter((p) => p.node !== 'edge-b1'))
    m.notePeers(peers)
    const f = parsePrometheusText(m.render(observeFixture))
    expect(sampleValue(f, 'podlink_path_changes_total', { from: 'relay', to: 'punched' })).toBe(1)
    expect(sampleValue(f, 'podlink_path_changes_total', { from: 'punched', to: 'relay' })).toBe(1)
    expect(f.get('podlink_path_changes_total')!.samples).toHaveLength(2)
  })

  it('drops gauges of peers and relays that are no longer in the status', () => {
    const m = createAgentMetrics()
    m.render(observeFixture)
    const f = parsePrometheusText(m.render({ ...observeFixture, peers: observeFixture.peers.slice(0, 1), relays: [] }))
    expect(f.get('podlink_peer_flows')!.samples.map((s) => s.labels.peer)).toEqual(['edge-a2'])
    expect(f.get('podlink_relay_reservations')!.samples).toEqual([])
  })

  it('keeps label cardinality bounded: no flow, address or free-text label', () => {
    const m = createAgentMetrics()
    m.peerRtt(1)
    m.ruleSyncObserved(1)
    m.pathChanged('direct', 'relay')
    m.holepunchFinished('failure', 'timeout')
    m.connectionCaptured('pod', 'tcp')
    const f = parsePrometheusText(m.render(observeFixture))
    const labelNames = new Set([...f.values()].flatMap((fam) => fam.samples.flatMap((s) => Object.keys(s.labels))))
    expect([...labelNames].sort()).toEqual([
      'class',
      'direction',
      'from',
      'kind',
      'le',
      'path',
      'peer',
      'protocol',
      'reason',
      'relay',
      'result',
      'to',
    ])
  })
})

describe('createMetricRegistry', () => {
  it('escapes label values and refuses wrong label sets, negative increments and duplicate names', () => {
    const r = createMetricRegistry()
    const c = r.counter('x_total', 'help with \\ and\nnewline', ['a'])
    c.inc({ a: 'quote " backslash \\ newline \n' })
    const f = parsePrometheusText(r.render())
    expect(f.get('x_total')!.samples[0]!.labels.a).toBe('quote " backslash \\ newline \n')
    expect(() => c.inc({ b: 'x' })).toThrow(/Cannot record x_total as its labels must be exactly \{a\}/)
    expect(() => c.inc({ a: 'x' }, -1)).toThrow(/counters only go up/)
    expect(() => r.gauge('x_total', 'again')).toThrow(/already registered/)
    expect(() => r.gauge('bad-name', 'x')).toThrow(/invalid/)
  })
})
