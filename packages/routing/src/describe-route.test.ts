import { describe, expect, it } from 'vitest'
import { computeRouting } from './compute-routing.ts'
import { describeRoute } from './describe-route.ts'
import { isEmptyDiff, routingDiff } from './routing-diff.ts'
import { makeNode, makeView, withNode, withoutNode } from './testing/index.ts'

const view = makeView({
  nodes: [
    makeNode('n1', { podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'] }),
    makeNode('n2', { podCIDRs: ['10.244.2.0/24'], lan: 'x' }),
    makeNode('n3', { podCIDRs: ['10.245.0.0/16'] }),
    makeNode('n4', { podCIDRs: ['10.245.9.0/24'] }),
  ],
})
const table = computeRouting({ view, self: 'n1', lanPeers: new Set(['n2']) })

describe('describeRoute', () => {
  const cases: readonly [ip: string, want: [cidr: string, cls: string, node: string] | null][] = [
    ['10.244.1.20', ['10.244.1.0/24', 'local', 'n1']],
    ['10.244.2.20', ['10.244.2.0/24', 'lan', 'n2']],
    ['::ffff:10.244.2.20', ['10.244.2.0/24', 'lan', 'n2']],
    ['fd00:10:244:1::20', ['fd00:10:244:1::/64', 'local', 'n1']],
    ['10.245.9.1', ['10.245.9.0/24', 'conflict', 'n4']],
    ['10.245.1.1', ['10.245.0.0/16', 'conflict', 'n3']],
    ['10.246.0.1', null],
    ['garbage', null],
  ]
  it.each(cases)('%s -> %j', (ip, want) => {
    const route = describeRoute(table, ip)
    expect(route === null ? null : [route.cidr, route.class, route.node]).toEqual(want)
  })

  it('works on a table it did not compute (e.g. read back from JSON)', () => {
    const copy = JSON.parse(JSON.stringify(table))
    expect(describeRoute(copy, '10.244.2.20')?.node).toBe('n2')
  })
})

describe('routingDiff', () => {
  const cases: readonly {
    name: string
    after: ReturnType<typeof computeRouting>
    added: string[]
    removed: string[]
    changed: [cidr: string, before: string, after: string][]
  }[] = [
    {
      name: 'nothing changed',
      after: computeRouting({ view, self: 'n1', lanPeers: new Set(['n2']) }),
      added: [],
      removed: [],
      changed: [],
    },
    {
      name: 'node added and node deleted',
      after: computeRouting({
        view: withoutNode(withNode(view, makeNode('n5', { podCIDRs: ['10.244.5.0/24'] })), 'n2'),
        self: 'n1',
        lanPeers: new Set(['n2']),
      }),
      added: ['10.244.5.0/24'],
      removed: ['10.244.2.0/24'],
      changed: [],
    },
    {
      name: 'LAN peer lost; clash resolved',
      after: computeRouting({ view: withoutNode(view, 'n4'), self: 'n1', lanPeers: new Set() }),
      added: [],
      removed: ['10.245.9.0/24'],
      changed: [
        ['10.244.2.0/24', 'lan', 'mesh'],
        ['10.245.0.0/16', 'conflict', 'mesh'],
      ],
    },
  ]
  it.each(cases)('$name', ({ after, added, removed, changed }) => {
    const diff = routingDiff(table, after)
    expect(diff.added.map((r) => r.cidr)).toEqual(added)
    expect(diff.removed.map((r) => r.cidr)).toEqual(removed)
    expect(diff.changed.map((c) => [c.before.cidr, c.before.class, c.after.class])).toEqual(changed)
    expect(isEmptyDiff(diff)).toBe(added.length + removed.length + changed.length === 0)
  })
})
