import { describe, expect, it } from 'vitest'
import { applyStrategicMergePatch } from './strategic-merge-patch.ts'

const cases: Array<{
  name: string
  kind: string
  original: Record<string, unknown>
  patch: Record<string, unknown>
  want: unknown
}> = [
  {
    name: 'merges maps and deletes keys set to null',
    kind: 'Node',
    original: { metadata: { labels: { a: '1', b: '2' } } },
    patch: { metadata: { labels: { b: null, c: '3' } } },
    want: { metadata: { labels: { a: '1', c: '3' } } },
  },
  {
    name: 'merges Service ports by port, deletes with $patch, orders with $setElementOrder (kubectl apply)',
    kind: 'Service',
    original: {
      spec: {
        ports: [
          { name: 'http', port: 80, protocol: 'TCP' },
          { name: 'dns', port: 53, protocol: 'UDP' },
        ],
      },
    },
    patch: {
      spec: {
        '$setElementOrder/ports': [{ port: 53 }, { port: 8080 }],
        ports: [
          { name: 'http', port: 8080 },
          { $patch: 'delete', port: 80 },
        ],
      },
    },
    want: {
      spec: {
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'http', port: 8080 },
        ],
      },
    },
  },
  {
    name: 'merges Node status.conditions by type',
    kind: 'Node',
    original: {
      status: {
        conditions: [
          { type: 'Ready', status: 'False' },
          { type: 'MemoryPressure', status: 'False' },
        ],
      },
    },
    patch: { status: { conditions: [{ type: 'Ready', status: 'True' }] } },
    want: {
      status: {
        conditions: [
          { type: 'Ready', status: 'True' },
          { type: 'MemoryPressure', status: 'False' },
        ],
      },
    },
  },
  {
    name: 'replaces lists without a merge strategy (EndpointSlice endpoints are atomic)',
    kind: 'EndpointSlice',
    original: { endpoints: [{ addresses: ['10.0.0.1'] }] },
    patch: { endpoints: [{ addresses: ['10.0.0.2'] }] },
    want: { endpoints: [{ addresses: ['10.0.0.2'] }] },
  },
  {
    name: 'unions finalizers and removes with $deleteFromPrimitiveList',
    kind: 'Pod',
    original: { metadata: { finalizers: ['a', 'b'] } },
    patch: { metadata: { finalizers: ['c'], '$deleteFromPrimitiveList/finalizers': ['a'] } },
    want: { metadata: { finalizers: ['b', 'c'] } },
  },
  {
    name: 'honours $patch: replace on a map and $retainKeys',
    kind: 'Pod',
    original: { spec: { strategy: { type: 'A', extra: 1 }, keep: { x: 1, y: 2 } } },
    patch: { spec: { strategy: { $patch: 'replace', type: 'B' }, keep: { $retainKeys: ['x'], x: 3 } } },
    want: { spec: { strategy: { type: 'B' }, keep: { x: 3 } } },
  },
  {
    name: 'merges container env by name inside containers merged by name',
    kind: 'Pod',
    original: { spec: { containers: [{ name: 'c', env: [{ name: 'A', value: '1' }] }] } },
    patch: { spec: { containers: [{ name: 'c', env: [{ name: 'B', value: '2' }] }] } },
    want: {
      spec: {
        containers: [
          {
            name: 'c',
            env: [
              { name: 'A', value: '1' },
              { name: 'B', value: '2' },
            ],
          },
        ],
      },
    },
  },
]

describe('applyStrategicMergePatch', () => {
  for (const c of cases) {
    it(c.name, () => {
      const patch = JSON.parse(JSON.stringify(c.patch))
      expect(applyStrategicMergePatch(c.kind, c.original, patch)).toEqual(c.want)
    })
  }
})
