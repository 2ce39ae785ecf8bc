import type { PingEvent } from '@podlink/core'
import { describe, expect, it } from 'vitest'
import { FIXTURE_NOW, fixtureTrace, fixtureStatus as s } from '../testing/fixture-status.ts'
import { ansiColour, noColour } from './colour.ts'
import { renderConflicts } from './render-conflicts.ts'
import { renderFlows, sortFlows } from './render-flows.ts'
import { renderPeers, sortPeers } from './render-peers.ts'
import { renderPingEvent } from './render-ping.ts'
import { renderRoutes } from './render-routes.ts'
import { renderServices } from './render-services.ts'
import { renderStatus } from './render-status.ts'
import { renderTrace } from './render-trace.ts'

const row = (text: string, first: string): string => text.split('\n').find((l) => l.startsWith(first)) ?? ''

describe('renderPeers', () => {
  const out = renderPeers(s, FIXTURE_NOW, noColour)
  it('has the operator columns in order', () => {
    expect(out.split('\n')[0]!.split(/\s+/)).toEqual([
      'NODE',
      'LAN',
      'PEER',
      'PATH',
      'ADDRESS',
      'RTT',
      'TX',
      'RX',
      'FLOWS',
      'FAST',
      'SINCE',
      'REASON',
    ])
  })
  it('shows the fast channel: on with its ready connections, or failing with the dial error as the reason', () => {
    const b1 = s.peers.find((p) => p.node === 'edge-b1')!
    const fast = { address: '203.0.113.10:4004', ready: 2, flows: 5, missed: 1, failures: 0, lastError: null }
    const on = renderPeers({ ...s, peers: [{ ...b1, fast }] }, FIXTURE_NOW, noColour)
    expect(row(on, 'edge-b1')).toContain('on (2 ready)')
    const native = renderPeers(
      { ...s, peers: [{ ...b1, fast: { ...fast, records: 'sealed' } }] },
      FIXTURE_NOW,
      noColour,
    )
    expect(row(native, 'edge-b1')).toContain('on (2 ready, native)')
    const tls = renderPeers({ ...s, peers: [{ ...b1, fast: { ...fast, records: 'tls' } }] }, FIXTURE_NOW, noColour)
    expect(row(tls, 'edge-b1')).toContain('on (2 ready, tls)')
    const failing = renderPeers(
      { ...s, peers: [{ ...b1, fast: { ...fast, ready: 0, failures: 3, lastError: 'connect ECONNREFUSED' } }] },
      FIXTURE_NOW,
      noColour,
    )
    expect(row(failing, 'edge-b1')).toContain('failing')
    expect(row(failing, 'edge-b1')).toContain('fast channel: connect ECONNREFUSED')
    expect(row(out, 'edge-b1')).not.toContain('fast channel')
  })
  it.each([
    ['edge-a2', ['yes', 'A2bbbb…bbb2', 'lan', '192.168.1.12:4001', '0.4ms'], 'same LAN'],
    ['edge-b1', ['no', 'direct', '203.0.113.10:4001', '24ms', '1.5MiB', '70.0MiB', '3', '2h0m'], null],
    ['edge-b2', ['punched', '203.0.113.20:51820', '1m30s'], 'hole punched via edge-b1'],
    ['edge-c1', ['relay via edge-b1', '(circuit)', '954MiB', '2d1h'], 'symmetric NAT at edge-c1'],
    ['edge-c2', ['none', '-'], 'no relay reservation'],
  ])('%s shows %j and its reason', (node, cells, reason) => {
    const line = row(out, node)
    for (const c of cells) expect(line).toContain(c)
    if (reason) expect(line).toContain(reason)
    else expect(line.trimEnd().endsWith('2h0m')).toBe(true)
  })
  it('sorts by path quality, LAN first and unreachable last', () => {
    expect(sortPeers([...s.peers].reverse()).map((p) => p.path)).toEqual(['lan', 'direct', 'punched', 'relay', 'none'])
  })
  it('aligns columns whether or not it is coloured', () => {
    const plain = renderPeers(s, FIXTURE_NOW, noColour)
    const stripped = renderPeers(s, FIXTURE_NOW, ansiColour).replace(/\x1b\[[0-9;]*m/g, '')
    expect(stripped).toBe(plain)
    expect(renderPeers(s, FIXTURE_NOW, ansiColour)).toContain('\x1b[33mrelay via edge-b1\x1b[0m')
  })
  it('says so when there are no peers', () => {
    expect(renderPeers({ ...s, peers: [] }, FIXTURE_NOW, noColour)).toBe('no peers known to edge-a1 yet')
  })
})

describe('renderFlows', () => {
  it.each([
    ['bytes', ['f2', 'f1', 'f3']],
    ['rx', ['f2', 'f1', 'f3']],
    ['tx', ['f1', 'f3', 'f2']],
    ['age', ['f1', 'f2', 'f3']],
  ] as const)('--sort %s orders %j', (by, ids) => expect(sortFlows(s.flows, by).map((f) => f.id)).toEqual(ids))
  it('shows the endpoint only when it differs from the destination', () => {
    const out = renderFlows(s, 'bytes', FIXTURE_NOW, noColour)
    expect(row(out, 'tcp    10.244.1.7')).toContain('10.244.3.9:8080')
    expect(row(out, 'tcp    10.244.1.8')).toMatch(/10\.244\.5\.4:9000\s+=\s+-\s+edge-c1\s+relay/)
  })
  it('shows what carries each flow: its own fast socket, a libp2p stream, or - (an agent older than the field)', () => {
    const out = renderFlows(s, 'bytes', FIXTURE_NOW, noColour)
    expect(out.split('\n')[0]!.split(/\s+/).slice(6, 8)).toEqual(['PATH', 'CHANNEL'])
    expect(row(out, 'tcp    10.244.1.7')).toMatch(/edge-b1\s+direct\s+fast\s/)
    expect(row(out, 'tcp    10.244.1.8')).toMatch(/edge-c1\s+relay\s+libp2p\s/)
    expect(row(out, 'udp    10.244.1.9')).toMatch(/edge-b2\s+punched\s+-\s/)
  })
})

describe('list renderers', () => {
  it.each([
    [
      'routes',
      renderRoutes(s, noColour),
      ['10.244.6.0/24       conflict  edge-c2', '1 conflict(s): see podlink conflicts'],
    ],
    [
      'services',
      renderServices(s, noColour),
      ['default/web           http  10.96.0.20:80/tcp    yes', 'ClientIP 600s', '10.244.2.3:53(lan edge-a2)'],
    ],
    ['conflicts', renderConflicts(s, noColour), ['overlapping-pod-cidr  edge-c2,edge-x9  10.244.6.0/24']],
    ['conflicts (none)', renderConflicts({ ...s, conflicts: [] }, noColour), ['no conflicts']],
    ['flows (none)', renderFlows({ ...s, flows: [] }, 'bytes', FIXTURE_NOW, noColour), ['no flows']],
  ])('%s', (_, out, wants) => {
    for (const w of wants) expect(out).toContain(w)
  })
})

describe('renderStatus', () => {
  it('summarises every part of the status and lists problems', () => {
    const out = renderStatus(s, FIXTURE_NOW, noColour)
    for (const w of [
      'edge-a1  peer A1aaaa…aaa1  version 0.1.0  up 3d0h',
      'synced, last sync 5s ago',
      'ready, healthy',
      '2 local, 1 lan, 3 mesh, 1 conflict',
      '3 (2 captured)',
      '1 lan, 1 direct, 1 punched, 1 relay, 1 none',
      'edge-b1 reserved 24ms',
      'nft, 42 rules, 3 CIDRs + 2 services captured, last sync 12s ago (38ms), 0 failures',
      '  - 1 conflict(s): podlink conflicts',
      '  - edge-c2 unreachable: no relay reservation',
    ])
      expect(out).toContain(w)
  })
  it('flags a stale view and a disabled dataplane', () => {
    const out = renderStatus(
      {
        ...s,
        view: { ...s.view, stale: true },
        dataplane: { ...s.dataplane, enabled: false },
        conflicts: [],
        peers: [],
      },
      FIXTURE_NOW,
      noColour,
    )
    expect(out).toContain('STALE (from cache')
    expect(out).toContain('dataplane  disabled')
    expect(out).not.toContain('problems')
  })
})

describe('renderPingEvent', () => {
  it.each<[PingEvent, string]>([
    [
      {
        type: 'reply',
        seq: 1,
        node: 'edge-c1',
        peerId: '12D3KooWC1eeeeeeeeeeee1',
        path: 'relay',
        relay: 'edge-b1',
        addr: '203.0.113.10:4001',
        rttMs: 61.93,
      },
      'reply from edge-c1 (C1eeee…eee1): seq=1 path=relay via edge-b1 addr=203.0.113.10:4001 time=61.9 ms',
    ],
    [{ type: 'lost', seq: 2, node: 'edge-c1', reason: 'timed out after 2s' }, 'seq=2 lost: timed out after 2s'],
    [
      { type: 'summary', node: 'edge-c1', sent: 4, received: 3, minMs: 60, avgMs: 61.5, maxMs: 63.25 },
      '--- edge-c1 podlink ping statistics ---\n4 probes sent, 3 received, 25% loss\nrtt min/avg/max = 60.0/61.5/63.3 ms',
    ],
    [
      { type: 'summary', node: 'edge-c2', sent: 2, received: 0, minMs: null, avgMs: null, maxMs: null },
      '--- edge-c2 podlink ping statistics ---\n2 probes sent, 0 received, 100% loss',
    ],
  ])('%j', (e, want) => expect(renderPingEvent(e, noColour)).toBe(want))
})

describe('renderTrace', () => {
  it('says what the address is, the capture rule, each endpoint path and the verdict', () => {
    const out = renderTrace(fixtureTrace, noColour)
    for (const w of [
      'destination  10.96.0.20:80/tcp: ClusterIP of default/web (http)',
      'capture      captured by redirect to port 15001: default/web:http has an off-LAN endpoint',
      '-A PODLINK-SERVICES -d 10.96.0.20/32',
      '10.244.3.9:8080  edge-b1  mesh   direct',
      'verdict      captured; the proxy picks one of 2/2',
    ])
      expect(out).toContain(w)
  })
  it('shows an uncaptured pod destination with its route', () => {
    const out = renderTrace(
      {
        ...fixtureTrace,
        kind: 'pod',
        services: [],
        route: s.routes[5]!,
        capture: { captured: false, reason: 'conflict' },
        hops: [],
        verdict: 'not routed',
        broken: true,
      },
      noColour,
    )
    expect(out).toContain('pod address in 10.244.6.0/24 of edge-c2')
    expect(out).toContain('route        10.244.6.0/24 -> edge-c2 (conflict)')
    expect(out).toContain('capture      not captured: conflict')
  })
})
