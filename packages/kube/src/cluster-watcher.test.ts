import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClusterView, NodeInfo, ServiceInfo } from '@podlink/core'
import { hasCode } from '@podlink/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { VIEW_CACHE_FILE, ViewCache } from './cache/view-cache.ts'
import type { ClusterChange } from './cluster-source.ts'
import { ClusterWatcher } from './cluster-watcher.ts'
import type { SliceInfo } from './convert/endpoint-slice.ts'
import { FakeResourceWatch } from './testing/fake-resource-watch.ts'
import { ManualTimers } from './testing/manual-timers.ts'

const node = (name: string, cidr = '10.244.0.0/24'): NodeInfo => ({
  name,
  podCIDRs: [cidr],
  addresses: [{ type: 'InternalIP', address: '192.168.1.10' }],
  labels: {},
  annotations: {},
})
const service: ServiceInfo = {
  namespace: 'd',
  name: 'web',
  clusterIPs: ['10.96.0.10'],
  ports: [{ name: 'http', port: 80, protocol: 'tcp' }],
  sessionAffinity: 'None',
  affinityTimeoutSeconds: 10_800,
}
const ep = (address: string) => ({ address, ready: true, ports: [] })

let dir: string
let timers: ManualTimers
let nodes: FakeResourceWatch<NodeInfo>
let services: FakeResourceWatch<ServiceInfo>
let slices: FakeResourceWatch<SliceInfo>
let changes: ClusterChange[]

function watcher(stateDir?: string): ClusterWatcher {
  const w = new ClusterWatcher(
    { nodes, services, endpointSlices: slices },
    { coalesceMs: 50, cacheWriteMs: 1000, initialSyncTimeoutMs: 5000, ...(stateDir ? { stateDir } : {}) },
    { timers, clock: { now: () => 1_700_000_000_000 + timers.now, monotonic: () => timers.now } },
  )
  w.on('change', (c) => changes.push(c))
  return w
}

const syncAll = () => {
  nodes.sync()
  services.sync()
  slices.sync()
}
const names = (view: ClusterView) => [...view.nodes.keys()].sort()

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'podlink-kube-'))
  timers = new ManualTimers()
  nodes = new FakeResourceWatch('nodes')
  services = new FakeResourceWatch('services')
  slices = new FakeResourceWatch('endpointslices')
  changes = []
})
afterEach(async () => rm(dir, { recursive: true, force: true }))

/** Lets queued promise callbacks (cache writes, ready) run. */
const settle = () => new Promise((r) => setTimeout(r, 20))

describe('ClusterWatcher', () => {
  it('publishes nothing until all three watches have listed, then the whole view at once', async () => {
    const w = watcher()
    await w.start()
    nodes.set('a', node('a'))
    nodes.sync()
    services.sync()
    timers.advance(1000)
    expect(changes).toEqual([])
    expect(w.status().synced).toBe(false)
    slices.set('d/web-1', { service: 'd/web', endpoints: [ep('10.244.0.2')] })
    slices.set('d/web-2', { service: 'd/web', endpoints: [ep('10.244.0.3')] })
    slices.sync()
    expect(changes).toHaveLength(1)
    expect(names(w.view())).toEqual(['a'])
    expect(
      w
        .view()
        .endpoints.get('d/web')
        ?.map((e) => e.address),
    ).toEqual(['10.244.0.2', '10.244.0.3'])
    expect(w.status()).toEqual({
      synced: true,
      stale: false,
      resourceVersions: { nodes: '1', services: '0', endpointslices: '2' },
      lastSyncAt: new Date(1_700_000_001_000).toISOString(),
    })
    await w.ready()
    await w.stop()
  })

  it('coalesces a burst of changes into one event within coalesceMs', async () => {
    const w = watcher()
    await w.start()
    syncAll()
    changes = []
    const before = w.view()
    nodes.set('a', node('a'))
    timers.advance(20)
    nodes.set('b', node('b'))
    services.set('d/web', service)
    expect(changes).toEqual([])
    timers.advance(30)
    expect(changes).toHaveLength(1)
    expect(names(changes[0]!.view)).toEqual(['a', 'b'])
    expect(changes[0]!.view.services.get('d/web')).toEqual(service)
    // Snapshots are immutable: the earlier view did not change under its holder.
    expect(names(before)).toEqual([])
    nodes.delete('a')
    timers.advance(50)
    expect(changes.map((c) => names(c.view))).toEqual([['a', 'b'], ['b']])
    await w.stop()
  })

  it('writes the cache (0600) after sync and changes, and serves it stale when the API is away', async () => {
    const first = watcher(dir)
    await first.start()
    nodes.set('a', node('a', '10.244.1.0/24'))
    slices.set('d/web-1', { service: 'd/web', endpoints: [ep('10.244.1.2')] })
    services.set('d/web', service)
    syncAll()
    timers.advance(1000)
    const path = join(dir, VIEW_CACHE_FILE)
    // The write itself is real file I/O: wait for it (bounded) rather than for a fixed 20 ms.
    for (let i = 0; i < 200 && !(await stat(path).catch(() => null)); i++) await settle()
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    const saved = first.view()
    await first.stop()

    nodes = new FakeResourceWatch('nodes')
    services = new FakeResourceWatch('services')
    slices = new FakeResourceWatch('endpointslices')
    changes = []
    const second = watcher(dir)
    await second.start()
    nodes.fail()
    await second.ready()
    expect(second.status()).toMatchObject({ synced: false, stale: true, resourceVersions: { nodes: '1' } })
    expect(second.view()).toEqual(saved)
    expect(changes).toHaveLength(1)

    // The API returns with a different world: it replaces the cached view entirely.
    nodes.set('b', node('b'))
    syncAll()
    expect(second.status()).toMatchObject({ synced: true, stale: false })
    expect(names(second.view())).toEqual(['b'])
    expect(changes.map((c) => c.status.stale)).toEqual([true, false])
    await second.stop()
  })

  it('falls back to the cache after initialSyncTimeoutMs when the API hangs', async () => {
    await new ViewCache(dir).save({
      view: { nodes: new Map([['a', node('a')]]), services: new Map(), endpoints: new Map() },
      resourceVersions: { nodes: '7' },
      savedAt: 'then',
    })
    const w = watcher(dir)
    await w.start()
    timers.advance(4999)
    expect(w.status().stale).toBe(false)
    timers.advance(1)
    expect(w.status().stale).toBe(true)
    expect(names(w.view())).toEqual(['a'])
    await w.stop()
  })

  it('reports a corrupt cache and waits for the API instead', async () => {
    await writeFile(join(dir, VIEW_CACHE_FILE), '{"apiVersion": "podlink.io/view-cache/v1", "nodes": [')
    const w = watcher(dir)
    await w.start()
    expect(hasCode(w.cacheError, 'kube-cache-corrupt')).toBe(true)
    nodes.fail()
    timers.advance(10_000)
    expect(changes).toEqual([])
    syncAll()
    await w.ready()
    expect(w.status().stale).toBe(false)
    await w.stop()
  })

  it('reports an unwritable cache without stopping', async () => {
    // A file where the state directory should be: fails for root too, unlike a chmod.
    await writeFile(join(dir, 'blocker'), '')
    const w = watcher(join(dir, 'blocker', 'sub'))
    await w.start()
    syncAll()
    timers.advance(1000)
    for (let i = 0; i < 200 && !hasCode(w.cacheError, 'kube-cache-write'); i++) await settle()
    expect(hasCode(w.cacheError, 'kube-cache-write'), String(w.cacheError)).toBe(true)
    nodes.set('a', node('a'))
    timers.advance(50)
    expect(names(w.view())).toEqual(['a'])
    await w.stop()
  })
})

describe('ViewCache', () => {
  it('round-trips a view and drops malformed entries', async () => {
    const cache = new ViewCache(dir)
    expect(await cache.load()).toBeUndefined()
    const view: ClusterView = {
      nodes: new Map([['a', node('a')]]),
      services: new Map([['d/web', service]]),
      endpoints: new Map([
        [
          'd/web',
          [
            {
              address: '10.244.0.2',
              ready: false,
              nodeName: 'a',
              zone: 'z',
              hintZones: ['z'],
              ports: [{ name: 'http', port: 8080, protocol: 'tcp' as const }],
            },
          ],
        ],
      ]),
    }
    await cache.save({ view, resourceVersions: { nodes: '5' }, savedAt: 'now' })
    expect(await cache.load()).toEqual({ view, resourceVersions: { nodes: '5' }, savedAt: 'now' })
    const raw = JSON.parse(await readFile(cache.path, 'utf8'))
    raw.nodes.push({ podCIDRs: ['x'] }, 'junk')
    await writeFile(cache.path, JSON.stringify(raw))
    expect((await cache.load())?.view.nodes.size).toBe(1)
  })
})
