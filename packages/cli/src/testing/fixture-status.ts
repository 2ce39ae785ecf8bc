/**
 * Fixture AgentStatus objects for renderer tests: three sites seen from `edge-a1`.
 * Site A (192.168.1.0/24): edge-a1, edge-a2 share a LAN. Site B (10.10.0.0/24, public addresses): edge-b1
 * (also the relay), edge-b2 (behind a cone NAT, punched). Site C: edge-c1 behind a symmetric NAT (relayed via
 * edge-b1), edge-c2 not reachable at all. `fixtureStatusB` is edge-b1's own view, for the combined graph.
 */
import type { AgentStatus, DestinationTrace, PeerStatus } from '@podlink/core'

/** The clock every fixture time is relative to (renderers take `now` so output is deterministic). */
export const FIXTURE_NOW = new Date('2025-06-01T12:00:00Z')

const ago = (s: number): string => new Date(FIXTURE_NOW.getTime() - s * 1000).toISOString()

const PEER = {
  a1: '12D3KooWA1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1',
  a2: '12D3KooWA2bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2',
  b1: '12D3KooWB1cccccccccccccccccccccccccccccccccccccccccc1',
  b2: '12D3KooWB2dddddddddddddddddddddddddddddddddddddddddd2',
  c1: '12D3KooWC1eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee1',
  c2: '12D3KooWC2ffffffffffffffffffffffffffffffffffffffffff2',
} as const

export const FIXTURE_PEER_IDS: Readonly<Record<keyof typeof PEER, string>> = PEER

const peersOfA1: readonly PeerStatus[] = [
  {
    node: 'edge-a2',
    peerId: PEER.a2,
    lan: true,
    path: 'lan',
    relay: null,
    rttMs: 0.4,
    addrs: ['/ip4/192.168.1.12/tcp/4001'],
    txBytes: 0,
    rxBytes: 0,
    flows: 0,
    since: ago(3600),
    reason: 'same LAN: handshake on 192.168.1.12 proved peer 12D3KooWA2bb',
  },
  {
    node: 'edge-b1',
    peerId: PEER.b1,
    lan: false,
    path: 'direct',
    relay: null,
    rttMs: 23.5,
    addrs: ['/ip4/203.0.113.10/tcp/4001'],
    txBytes: 1_572_864,
    rxBytes: 73_400_320,
    flows: 3,
    since: ago(7200),
    reason: null,
  },
  {
    node: 'edge-b2',
    peerId: PEER.b2,
    lan: false,
    path: 'punched',
    relay: null,
    rttMs: 25.1,
    addrs: ['/ip4/203.0.113.20/tcp/51820'],
    txBytes: 2048,
    rxBytes: 4096,
    flows: 1,
    since: ago(90),
    reason: 'edge-b2 is behind NAT (no public address): hole punched via edge-b1',
  },
  {
    node: 'edge-c1',
    peerId: PEER.c1,
    lan: false,
    path: 'relay',
    relay: 'edge-b1',
    rttMs: 61.9,
    addrs: ['/ip4/203.0.113.10/tcp/4001/p2p/12D3KooWB1cc/p2p-circuit'],
    txBytes: 512,
    rxBytes: 1_000_000_000,
    flows: 2,
    since: ago(86_400 * 2 + 3600),
    reason: 'symmetric NAT at edge-c1: hole punch failed (mapped port changes per destination)',
  },
  {
    node: 'edge-c2',
    peerId: PEER.c2,
    lan: false,
    path: 'none',
    relay: null,
    rttMs: null,
    addrs: [],
    txBytes: 0,
    rxBytes: 0,
    flows: 0,
    since: null,
    reason: 'no relay reservation: edge-c2 has not reserved a slot on any relay',
  },
]

export const fixtureStatus: AgentStatus = {
  node: 'edge-a1',
  peerId: PEER.a1,
  version: '0.1.0',
  startedAt: ago(86_400 * 3),
  view: { synced: true, stale: false, resourceVersions: { nodes: '4711', services: '4712' }, lastSyncAt: ago(5) },
  routes: [
    { cidr: '10.244.1.0/24', family: 4, class: 'local', node: 'edge-a1', reason: 'this node' },
    { cidr: '10.244.2.0/24', family: 4, class: 'lan', node: 'edge-a2', reason: 'same LAN: handshake on 192.168.1.12' },
    { cidr: '10.244.3.0/24', family: 4, class: 'mesh', node: 'edge-b1', reason: 'off LAN: carried over the mesh' },
    { cidr: '10.244.4.0/24', family: 4, class: 'mesh', node: 'edge-b2', reason: 'off LAN: carried over the mesh' },
    { cidr: '10.244.5.0/24', family: 4, class: 'mesh', node: 'edge-c1', reason: 'off LAN: carried over the mesh' },
    {
      cidr: '10.244.6.0/24',
      family: 4,
      class: 'conflict',
      node: 'edge-c2',
      reason: 'overlaps 10.244.6.0/23 of edge-x9: neither is routed',
    },
    { cidr: 'fd00:10:244:1::/64', family: 6, class: 'local', node: 'edge-a1', reason: 'this node' },
  ],
  services: [
    {
      service: 'default/web',
      portName: 'http',
      clusterIP: '10.96.0.20',
      port: 80,
      protocol: 'tcp',
      endpoints: [
        { ip: '10.244.1.7', port: 8080, node: 'edge-a1', class: 'local' },
        { ip: '10.244.3.9', port: 8080, node: 'edge-b1', class: 'mesh' },
      ],
      sessionAffinity: 'None',
      affinityTimeoutSeconds: 10800,
      offLan: true,
    },
    {
      service: 'kube-system/kube-dns',
      portName: 'dns',
      clusterIP: '10.96.0.10',
      port: 53,
      protocol: 'udp',
      endpoints: [{ ip: '10.244.2.3', port: 53, node: 'edge-a2', class: 'lan' }],
      sessionAffinity: 'None',
      affinityTimeoutSeconds: 10800,
      offLan: false,
    },
    {
      service: 'iot/collector',
      portName: '',
      clusterIP: '10.96.0.30',
      port: 9000,
      protocol: 'tcp',
      endpoints: [{ ip: '10.244.5.4', port: 9000, node: 'edge-c1', class: 'mesh' }],
      sessionAffinity: 'ClientIP',
      affinityTimeoutSeconds: 600,
      offLan: true,
    },
  ],
  conflicts: [
    {
      kind: 'overlapping-pod-cidr',
      nodes: ['edge-c2', 'edge-x9'],
      cidr: '10.244.6.0/24',
      reason: 'edge-c2 10.244.6.0/24 overlaps edge-x9 10.244.6.0/23: neither is routed',
    },
  ],
  peers: peersOfA1,
  relays: [{ node: 'edge-b1', peerId: PEER.b1, reserved: true, rttMs: 23.5, since: ago(7000), reason: null }],
  flows: [
    {
      id: 'f1',
      protocol: 'tcp',
      source: '10.244.1.7:40112',
      destination: '10.96.0.20:80',
      endpoint: '10.244.3.9:8080',
      service: 'default/web',
      peer: 'edge-b1',
      path: 'direct',
      channel: 'fast',
      txBytes: 1_000_000,
      rxBytes: 70_000_000,
      startedAt: ago(600),
    },
    {
      id: 'f2',
      protocol: 'tcp',
      source: '10.244.1.8:40200',
      destination: '10.244.5.4:9000',
      endpoint: '10.244.5.4:9000',
      service: null,
      peer: 'edge-c1',
      path: 'relay',
      channel: 'libp2p',
      txBytes: 512,
      rxBytes: 999_000_000,
      startedAt: ago(30),
    },
    {
      id: 'f3',
      protocol: 'udp',
      source: '10.244.1.9:5353',
      destination: '10.244.4.2:53',
      endpoint: '10.244.4.2:53',
      service: null,
      peer: 'edge-b2',
      path: 'punched',
      txBytes: 2048,
      rxBytes: 4096,
      startedAt: ago(5),
    },
  ],
  dataplane: {
    enabled: true,
    iptablesMode: 'nft',
    lastSyncAt: ago(12),
    lastSyncMs: 38,
    syncFailures: 0,
    ruleCount: 42,
    capturedCidrs: 3,
    capturedServices: 2,
    healthy: true,
    lastError: null,
  },
  health: { ready: true, healthy: true, reasons: [] },
}

/** edge-b1's own view: it sees edge-a1 direct, edge-b2 on its LAN, edge-c1 relayed through itself. */
export const fixtureStatusB: AgentStatus = {
  ...fixtureStatus,
  node: 'edge-b1',
  peerId: PEER.b1,
  conflicts: [],
  flows: [],
  relays: [],
  peers: [
    { ...peersOfA1[1]!, node: 'edge-a1', peerId: PEER.a1, addrs: ['/ip4/198.51.100.7/tcp/4001'] },
    { ...peersOfA1[0]!, node: 'edge-b2', peerId: PEER.b2, addrs: ['/ip4/10.10.0.12/tcp/4001'] },
    {
      ...peersOfA1[3]!,
      path: 'direct',
      relay: null,
      rttMs: 38.2,
      reason: 'edge-c1 dialled in: it holds a relay reservation on this node',
    },
  ],
}

/** What edge-a1's agent answers for `GET /trace?dst=10.96.0.20:80`. */
export const fixtureTrace: DestinationTrace = {
  destination: '10.96.0.20:80/tcp',
  ip: '10.96.0.20',
  port: 80,
  protocol: 'tcp',
  kind: 'service',
  services: [fixtureStatus.services[0]!],
  route: null,
  capture: {
    captured: true,
    via: 'redirect',
    rule: '-A PODLINK-SERVICES -d 10.96.0.20/32 -p tcp --dport 80 -j REDIRECT --to-ports 15001',
    port: 15001,
    reason: 'default/web:http has an off-LAN endpoint',
  },
  hops: [
    {
      target: '10.244.1.7:8080',
      node: 'edge-a1',
      class: 'local',
      path: null,
      relay: null,
      reason: 'endpoint of default/web:http (local)',
    },
    {
      target: '10.244.3.9:8080',
      node: 'edge-b1',
      class: 'mesh',
      path: 'direct',
      relay: null,
      reason: 'endpoint of default/web:http (mesh); direct to edge-b1',
    },
  ],
  verdict: 'captured; the proxy picks one of 2/2 reachable endpoint(s) per connection',
  broken: false,
}
