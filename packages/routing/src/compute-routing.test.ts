import type { ClusterView, RouteClass } from '@podlink/core'
import { describe, expect, it } from 'vitest'
import { computeRouting } from './compute-routing.ts'
import { fakePeerId, makeNode, makeView, withNode, withoutNode } from './testing/index.ts'

type Expected = Record<string, [cls: RouteClass, node: string, reason?: RegExp]>

function routesOf(view: ClusterView, self: string, lanPeers: readonly string[] = []): Expected {
  const table = computeRouting({ view, self, lanPeers: new Set(lanPeers) })
  return Object.fromEntries(table.routes.map((r) => [r.cidr, [r.class, r.node]]))
}

describe('computeRouting: route classes', () => {
  const siteA = [
    makeNode('a1', { podCIDRs: ['10.244.1.0/24'], internalIP: '192.168.1.10' }),
    makeNode('a2', { podCIDRs: ['10.244.2.0/24'], internalIP: '192.168.1.11' }),
  ]
  // Site B reuses site A's LAN range and even a1's address.
  const siteB = [
    makeNode('b1', { podCIDRs: ['10.244.3.0/24'], internalIP: '192.168.1.10' }),
    makeNode('b2', { podCIDRs: ['10.244.4.0/24'], internalIP: '192.168.1.11' }),
  ]
  const labelled = [
    makeNode('l1', { podCIDRs: ['10.244.1.0/24'], lan: 'site-a' }),
    makeNode('l2', { podCIDRs: ['10.244.2.0/24'], lan: 'site-a' }),
    makeNode('l3', { podCIDRs: ['10.244.3.0/24'], lan: 'site-b' }),
    makeNode('l4', { podCIDRs: ['10.244.4.0/24'] }),
  ]
  const cases: readonly {
    name: string
    nodes: ReturnType<typeof makeNode>[]
    self: string
    lanPeers: string[]
    routes: Expected
  }[] = [
    {
      name: 'own node is local, others off LAN when nothing proves otherwise',
      nodes: siteA,
      self: 'a1',
      lanPeers: [],
      routes: { '10.244.1.0/24': ['local', 'a1'], '10.244.2.0/24': ['mesh', 'a2'] },
    },
    {
      name: 'same LAN via the LAN prober',
      nodes: siteA,
      self: 'a1',
      lanPeers: ['a2'],
      routes: { '10.244.1.0/24': ['local', 'a1'], '10.244.2.0/24': ['lan', 'a2'] },
    },
    {
      name: 'duplicate node IPs across sites: classed by name and lanPeers, never by IP',
      nodes: [...siteA, ...siteB],
      self: 'a1',
      lanPeers: ['a2'],
      routes: {
        '10.244.1.0/24': ['local', 'a1'],
        '10.244.2.0/24': ['lan', 'a2'],
        '10.244.3.0/24': ['mesh', 'b1'],
        '10.244.4.0/24': ['mesh', 'b2'],
      },
    },
    {
      name: 'same label shares a LAN without the prober; a different label is off LAN despite the prober',
      nodes: labelled,
      self: 'l1',
      lanPeers: ['l3'],
      routes: {
        '10.244.1.0/24': ['local', 'l1'],
        '10.244.2.0/24': ['lan', 'l2'],
        '10.244.3.0/24': ['mesh', 'l3'],
        '10.244.4.0/24': ['mesh', 'l4'],
      },
    },
    {
      name: 'a label on one side only leaves the decision to the prober',
      nodes: labelled,
      self: 'l1',
      lanPeers: ['l4'],
      routes: {
        '10.244.1.0/24': ['local', 'l1'],
        '10.244.2.0/24': ['lan', 'l2'],
        '10.244.3.0/24': ['mesh', 'l3'],
        '10.244.4.0/24': ['lan', 'l4'],
      },
    },
    {
      name: 'dual-stack nodes get one route per family, IPv4 first',
      nodes: [
        makeNode('d1', { podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'] }),
        makeNode('d2', { podCIDRs: ['FD00:10:244:2:0::/64', '10.244.2.0/24'] }),
      ],
      self: 'd1',
      lanPeers: [],
      routes: {
        '10.244.1.0/24': ['local', 'd1'],
        '10.244.2.0/24': ['mesh', 'd2'],
        'fd00:10:244:1::/64': ['local', 'd1'],
        'fd00:10:244:2::/64': ['mesh', 'd2'],
      },
    },
    {
      name: 'the same network listed twice on one node is one route, not a conflict',
      nodes: [makeNode('n1', { podCIDRs: ['10.244.1.0/24', '10.244.1.0/24'] })],
      self: 'n1',
      lanPeers: [],
      routes: { '10.244.1.0/24': ['local', 'n1'] },
    },
  ]
  it.each(cases)('$name', ({ nodes, self, lanPeers, routes }) => {
    expect(routesOf(makeView({ nodes }), self, lanPeers)).toEqual(routes)
  })

  it('says why in each reason', () => {
    const table = computeRouting({ view: makeView({ nodes: labelled }), self: 'l1', lanPeers: new Set(['l4']) })
    expect(table.routes.map((r) => r.reason)).toEqual([
      "this node's pod CIDR",
      'same LAN: both nodes carry podlink.io/lan=site-a',
      "off LAN: podlink.io/lan=site-b differs from this node's site-a",
      'same LAN: proven by the LAN prober',
    ])
  })
})

describe('computeRouting: conflicts', () => {
  const cases: readonly {
    name: string
    nodes: ReturnType<typeof makeNode>[]
    routes: Expected
    conflicts: { kind: string; nodes: string[]; cidr?: string; peerId?: string; reason: RegExp }[]
  }[] = [
    {
      name: 'two nodes given the same podCIDR (flannel subnet clash): both out, one route marked conflict',
      nodes: [
        makeNode('n1', { podCIDRs: ['10.244.0.0/24'] }),
        makeNode('n2', { podCIDRs: ['10.244.1.0/24'] }),
        makeNode('n3', { podCIDRs: ['10.244.1.0/24'] }),
      ],
      routes: { '10.244.0.0/24': ['local', 'n1'], '10.244.1.0/24': ['conflict', 'n2'] },
      conflicts: [
        {
          kind: 'overlapping-pod-cidr',
          nodes: ['n2', 'n3'],
          cidr: '10.244.1.0/24',
          reason: /10\.244\.1\.0\/24 \(n2, n3\)/,
        },
      ],
    },
    {
      name: "a /16 holding another node's /24: both conflict",
      nodes: [
        makeNode('n1', { podCIDRs: ['10.244.0.0/24'] }),
        makeNode('n2', { podCIDRs: ['10.245.0.0/16'] }),
        makeNode('n3', { podCIDRs: ['10.245.7.0/24'] }),
        makeNode('n4', { podCIDRs: ['10.246.0.0/24'] }),
      ],
      routes: {
        '10.244.0.0/24': ['local', 'n1'],
        '10.245.0.0/16': ['conflict', 'n2'],
        '10.245.7.0/24': ['conflict', 'n3'],
        '10.246.0.0/24': ['mesh', 'n4'],
      },
      conflicts: [
        {
          kind: 'overlapping-pod-cidr',
          nodes: ['n2', 'n3'],
          cidr: '10.245.0.0/16',
          reason: /10\.245\.0\.0\/16 \(n2\), 10\.245\.7\.0\/24 \(n3\); none of them is routed/,
        },
      ],
    },
    {
      name: 'IPv6 overlaps the same way',
      nodes: [
        makeNode('n1', { podCIDRs: ['10.244.0.0/24', 'fd00:10:244::/48'] }),
        makeNode('n2', { podCIDRs: ['10.244.1.0/24', 'fd00:10:244:2::/64'] }),
      ],
      routes: {
        '10.244.0.0/24': ['local', 'n1'],
        '10.244.1.0/24': ['mesh', 'n2'],
        'fd00:10:244::/48': ['conflict', 'n1'],
        'fd00:10:244:2::/64': ['conflict', 'n2'],
      },
      conflicts: [{ kind: 'overlapping-pod-cidr', nodes: ['n1', 'n2'], cidr: 'fd00:10:244::/48', reason: /fd00/ }],
    },
    {
      name: 'a node without podCIDR has no route',
      nodes: [makeNode('n1', { podCIDRs: ['10.244.0.0/24'] }), makeNode('n2')],
      routes: { '10.244.0.0/24': ['local', 'n1'] },
      conflicts: [{ kind: 'missing-pod-cidr', nodes: ['n2'], reason: /node n2 has no podCIDR/ }],
    },
    {
      name: 'a garbage podCIDR is reported and skipped; the node keeps its valid one',
      nodes: [
        makeNode('n1', { podCIDRs: ['10.244.0.0/24'] }),
        makeNode('n2', { podCIDRs: ['10.244.1.7/24', 'fd00:10:244:1::/64'] }),
        makeNode('n3', { podCIDRs: ['banana'] }),
      ],
      routes: { '10.244.0.0/24': ['local', 'n1'], 'fd00:10:244:1::/64': ['mesh', 'n2'] },
      conflicts: [
        { kind: 'invalid-pod-cidr', nodes: ['n2'], cidr: '10.244.1.7/24', reason: /host bits are set/ },
        { kind: 'invalid-pod-cidr', nodes: ['n3'], cidr: 'banana', reason: /Cannot parse CIDR "banana"/ },
      ],
    },
    {
      name: 'two Nodes publishing one peer ID: their mesh routes are conflicts, LAN routes stay',
      nodes: [
        makeNode('n1', { podCIDRs: ['10.244.0.0/24'], lan: 'x' }),
        makeNode('n2', { podCIDRs: ['10.244.1.0/24'], peerId: fakePeerId('twin'), lan: 'x' }),
        makeNode('n3', { podCIDRs: ['10.244.2.0/24'], peerId: fakePeerId('twin'), lan: 'y' }),
      ],
      routes: {
        '10.244.0.0/24': ['local', 'n1'],
        '10.244.1.0/24': ['lan', 'n2'],
        '10.244.2.0/24': ['conflict', 'n3'],
      },
      conflicts: [
        {
          kind: 'duplicate-peer-id',
          nodes: ['n2', 'n3'],
          peerId: fakePeerId('twin'),
          reason: /published by nodes n2, n3/,
        },
      ],
    },
    {
      name: 'a malformed peer ID annotation is reported; the route stays mesh',
      nodes: [
        makeNode('n1', { podCIDRs: ['10.244.0.0/24'] }),
        makeNode('n2', { podCIDRs: ['10.244.1.0/24'], peerId: 'not-a-peer-id!' }),
      ],
      routes: { '10.244.0.0/24': ['local', 'n1'], '10.244.1.0/24': ['mesh', 'n2'] },
      conflicts: [
        { kind: 'invalid-annotation', nodes: ['n2'], reason: /podlink\.io\/peer-id "not-a-peer-id!" on node n2/ },
      ],
    },
  ]
  it.each(cases)('$name', ({ nodes, routes, conflicts }) => {
    const table = computeRouting({ view: makeView({ nodes }), self: 'n1', lanPeers: new Set() })
    expect(Object.fromEntries(table.routes.map((r) => [r.cidr, [r.class, r.node]]))).toEqual(routes)
    expect(table.conflicts).toHaveLength(conflicts.length)
    conflicts.forEach((want, i) => {
      const got = table.conflicts[i]!
      const { reason, ...rest } = want
      expect(got).toMatchObject(rest)
      expect(got.reason).toMatch(reason)
    })
    for (const route of table.routes.filter((r) => r.class === 'conflict')) {
      expect(table.conflicts.some((c) => c.reason === route.reason)).toBe(true)
    }
  })
})

describe('computeRouting: view changes', () => {
  const base = makeView({
    nodes: [makeNode('n1', { podCIDRs: ['10.244.0.0/24'] }), makeNode('n2', { podCIDRs: ['10.244.1.0/24'] })],
  })
  const cases: readonly { name: string; view: ClusterView; routes: Expected }[] = [
    {
      name: 'node added',
      view: withNode(base, makeNode('n3', { podCIDRs: ['10.244.2.0/24'] })),
      routes: { '10.244.0.0/24': ['local', 'n1'], '10.244.1.0/24': ['mesh', 'n2'], '10.244.2.0/24': ['mesh', 'n3'] },
    },
    { name: 'node deleted', view: withoutNode(base, 'n2'), routes: { '10.244.0.0/24': ['local', 'n1'] } },
    {
      name: 'deleting one side of a clash clears the conflict',
      view: withoutNode(withNode(base, makeNode('n3', { podCIDRs: ['10.244.1.0/24'] })), 'n2'),
      routes: { '10.244.0.0/24': ['local', 'n1'], '10.244.1.0/24': ['mesh', 'n3'] },
    },
    {
      name: 'self missing from the view: everything by the prober',
      view: withoutNode(base, 'n1'),
      routes: { '10.244.1.0/24': ['mesh', 'n2'] },
    },
  ]
  it.each(cases)('$name', ({ view, routes }) => {
    expect(routesOf(view, 'n1')).toEqual(routes)
  })

  it('is deterministic whatever the order of the view', () => {
    const nodes = [
      makeNode('z', { podCIDRs: ['10.244.9.0/24', 'fd00::/64'] }),
      makeNode('a', { podCIDRs: ['10.244.9.0/24'] }),
      makeNode('m', { podCIDRs: ['10.0.0.0/8'], peerId: 'bad' }),
      makeNode('q'),
    ]
    const one = computeRouting({ view: makeView({ nodes }), self: 'a', lanPeers: new Set() })
    const two = computeRouting({ view: makeView({ nodes: [...nodes].reverse() }), self: 'a', lanPeers: new Set() })
    expect(two).toEqual(one)
    expect(one.routes.map((r) => r.cidr)).toEqual(['10.0.0.0/8', '10.244.9.0/24', 'fd00::/64'])
  })
})
