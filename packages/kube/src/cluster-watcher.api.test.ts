/**
 * ClusterWatcher against the lab's Kubernetes API stand-in on 127.0.0.1 (real HTTPS list/watch,
 * 410s, bookmarks), through the real client-node informers.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import type { ClusterView } from '@podlink/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClusterWatcher, createClusterWatcher } from './cluster-watcher.ts'
import { connectKube, type KubeConnectionOptions } from './kube-connection.ts'
import { ADMIN_TOKEN, type ApiServerFixture, NODES, startApiServerFixture, until } from './testdata/stand-in.ts'
import { createClusterWatches } from './watch/cluster-watches.ts'

let fx: ApiServerFixture
let core: CoreV1Api
let stateRoot: string
const FAST = { coalesceMs: 10, cacheWriteMs: 50, initialSyncTimeoutMs: 2000, backoff: { initialMs: 50, maxMs: 200 } }

beforeAll(async () => {
  fx = await startApiServerFixture()
  stateRoot = await mkdtemp(join(tmpdir(), 'podlink-kube-state-'))
  const kc = new KubeConfig()
  kc.loadFromFile(fx.kubeconfig)
  core = kc.makeApiClient(CoreV1Api)
})
afterAll(async () => {
  await fx.dispose()
  await rm(stateRoot, { recursive: true, force: true })
})

const kubeconfig = (): KubeConnectionOptions => ({ mode: 'kubeconfig', path: fx.kubeconfig })
const nodesWith = (view: ClusterView, prefix: string) =>
  [...view.nodes.keys()].filter((n) => n.startsWith(prefix)).sort()

async function started(watcher: ClusterWatcher): Promise<ClusterWatcher> {
  await watcher.start()
  await watcher.ready({ signal: AbortSignal.timeout(5000) })
  return watcher
}

describe('ClusterWatcher on the API stand-in', () => {
  it('sees a Node added, updated and deleted, in order', async () => {
    const watcher = await started(createClusterWatcher(connectKube(kubeconfig()), FAST))
    expect(watcher.status()).toMatchObject({ synced: true, stale: false })
    const seen: string[] = []
    watcher.on('change', ({ view }) => {
      const n = view.nodes.get('order-a')
      const line = n === undefined ? 'absent' : `${n.podCIDRs.join()} ${n.labels['step']} ${n.annotations['note']}`
      if (seen.at(-1) !== line) seen.push(line)
    })
    await core.createNode({
      body: { metadata: { name: 'order-a', labels: { step: '0' } }, spec: { podCIDR: '10.244.7.0/24' } },
    })
    await until(() => seen.length === 1, 'add')
    const current = await core.readNode({ name: 'order-a' })
    current.metadata!.labels = { step: '1' }
    current.metadata!.annotations = { note: 'x' }
    current.spec = { podCIDR: '10.244.8.0/24', podCIDRs: ['10.244.8.0/24', 'not-a-cidr'] }
    await core.replaceNode({ name: 'order-a', body: current })
    await until(() => seen.length === 2, 'update')
    await core.deleteNode({ name: 'order-a' })
    await until(() => seen.length === 3, 'delete')
    expect(seen).toEqual(['10.244.7.0/24 0 undefined', '10.244.8.0/24,not-a-cidr 1 x', 'absent'])
    expect(Number(watcher.status().resourceVersions['nodes'])).toBeGreaterThan(0)
    await watcher.stop()
  })
  it('follows Services and the EndpointSlices derived from Pods', async () => {
    const watcher = await started(createClusterWatcher(connectKube(kubeconfig()), FAST))
    const endpoints = () => watcher.view().endpoints.get('default/web') ?? []
    await core.createNode({ body: { metadata: { name: 'eps-node', labels: { 'topology.kubernetes.io/zone': 'z1' } } } })
    await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: 'web-1', labels: { app: 'web' } },
        spec: {
          nodeName: 'eps-node',
          containers: [{ name: 'c', image: 'x', ports: [{ name: 'http', containerPort: 8080 }] }],
        },
      },
    })
    const pod = await core.readNamespacedPod({ name: 'web-1', namespace: 'default' })
    pod.status = { phase: 'Running', podIP: '10.244.1.2', conditions: [{ type: 'Ready', status: 'True' }] }
    await core.replaceNamespacedPodStatus({ name: 'web-1', namespace: 'default', body: pod })
    await core.createNamespacedService({
      namespace: 'default',
      body: {
        metadata: { name: 'web' },
        spec: {
          selector: { app: 'web' },
          ports: [
            { name: 'http', port: 80, targetPort: 'http' },
            { name: 'sctp', port: 99, protocol: 'SCTP' },
          ],
          sessionAffinity: 'ClientIP',
        },
      },
    })
    await until(() => endpoints().length === 1, 'endpoint of web-1')
    const svc = watcher.view().services.get('default/web')
    expect(svc).toMatchObject({
      ports: [{ name: 'http', port: 80, protocol: 'tcp' }],
      sessionAffinity: 'ClientIP',
      affinityTimeoutSeconds: 10_800,
    })
    expect(svc?.clusterIPs).toHaveLength(1)
    expect(endpoints()[0]).toEqual({
      address: '10.244.1.2',
      ready: true,
      nodeName: 'eps-node',
      zone: 'z1',
      ports: [{ name: 'http', port: 8080, protocol: 'tcp' }],
    })

    pod.status.conditions = [{ type: 'Ready', status: 'False' }]
    pod.metadata!.resourceVersion = ''
    await core.replaceNamespacedPodStatus({ name: 'web-1', namespace: 'default', body: pod })
    await until(() => endpoints()[0]?.ready === false, 'not ready')
    await core.deleteNamespacedPod({ name: 'web-1', namespace: 'default' })
    await until(() => endpoints().length === 0, 'no endpoints')
    await core.deleteNamespacedService({ name: 'web', namespace: 'default' })
    await until(
      () => !watcher.view().services.has('default/web') && !watcher.view().endpoints.has('default/web'),
      'gone',
    )
    await watcher.stop()
  })

  it('relists after a dropped watch resumes into a compacted window (410)', async () => {
    const watches = createClusterWatches(connectKube(kubeconfig()), { backoff: FAST.backoff })
    const watcher = await started(new ClusterWatcher(watches, FAST))
    await core.createNode({ body: { metadata: { name: 'drop-a' } } })
    await core.createNode({ body: { metadata: { name: 'drop-b' } } })
    await until(() => nodesWith(watcher.view(), 'drop-').length === 2, 'two nodes')
    const listsBefore = watches.nodes.status().lists

    // Every watch is cut; the server comes back on the same port and state, and before any
    // client can resume, the world changes and the window is forgotten.
    await fx.server.close()
    await fx.restart({ port: fx.server.port })
    fx.server.store.delete(NODES, undefined, 'drop-a')
    fx.server.store.create(NODES, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'drop-c' } })
    fx.server.compact()

    await until(() => nodesWith(watcher.view(), 'drop-').join() === 'drop-b,drop-c', 'relisted set', 10_000)
    expect(watches.nodes.status().lists).toBeGreaterThan(listsBefore)
    await core.createNode({ body: { metadata: { name: 'drop-d' } } })
    await until(() => nodesWith(watcher.view(), 'drop-').length === 3, 'watching again after the relist')
    await watcher.stop()
  })

  it('starts stale from the cache while the API is down, then turns fresh when it returns', async () => {
    const stateDir = join(stateRoot, 'stale')
    const first = await started(createClusterWatcher(connectKube(kubeconfig()), { ...FAST, stateDir }))
    await core.createNode({ body: { metadata: { name: 'cache-a' } } })
    await until(() => nodesWith(first.view(), 'cache-').length === 1, 'cache-a')
    await first.stop()
    // Changed after the cache was written, then the API goes away.
    await core.createNode({ body: { metadata: { name: 'cache-b' } } })
    const port = fx.server.port
    await fx.server.close()

    const second = createClusterWatcher(connectKube(kubeconfig()), { ...FAST, stateDir })
    const statuses: string[] = []
    second.on('change', ({ status }) => statuses.push(status.stale ? 'stale' : 'fresh'))
    await started(second)
    expect(second.status()).toMatchObject({ synced: false, stale: true })
    expect(nodesWith(second.view(), 'cache-')).toEqual(['cache-a'])

    await fx.restart({ port })
    await until(() => second.status().stale === false, 'fresh again', 10_000)
    expect(nodesWith(second.view(), 'cache-')).toEqual(['cache-a', 'cache-b'])
    expect(statuses.slice(0, 2)).toEqual(['stale', 'fresh'])
    await core.deleteNode({ name: 'cache-a' })
    await until(() => nodesWith(second.view(), 'cache-').join() === 'cache-b', 'watching after recovery')
    await second.stop()
  })

  it('connects in-cluster from a service-account directory and the environment', async () => {
    const dir = join(stateRoot, 'sa')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'token'), ADMIN_TOKEN)
    await writeFile(join(dir, 'ca.crt'), fx.pki.caPem)
    await writeFile(join(dir, 'namespace'), 'kube-system')
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(fx.server.port) }
    const connection = connectKube({ mode: 'in-cluster', serviceAccountDir: dir, env })
    expect(connection.server).toBe(`https://127.0.0.1:${fx.server.port}`)
    const watcher = await started(createClusterWatcher(connection, FAST))
    await core.createNode({ body: { metadata: { name: 'incluster-a' } } })
    await until(() => watcher.view().nodes.has('incluster-a'), 'node via in-cluster')
    await watcher.stop()
  })

  it('watches through a MetaServer-style plain-HTTP endpoint without credentials', async () => {
    const proxy = await metaServerProxy(fx)
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
    try {
      const watcher = await started(createClusterWatcher(connectKube({ mode: 'metaserver', url }), FAST))
      await core.createNode({ body: { metadata: { name: 'meta-a' }, spec: { podCIDR: '10.244.9.0/24' } } })
      await until(() => watcher.view().nodes.get('meta-a')?.podCIDRs[0] === '10.244.9.0/24', 'node via metaserver')
      await watcher.stop()
    } finally {
      proxy.closeAllConnections()
      await new Promise((r) => proxy.close(r))
    }
  })
})

/**
 * A stand-in for KubeEdge's MetaServer: plain HTTP on loopback, no auth, forwarding to the API
 * (MetaServer serves list/watch from edgecore's local store with the node's own identity).
 */
async function metaServerProxy(fixture: ApiServerFixture): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.headers.authorization !== undefined) {
      res.writeHead(400).end('metaserver clients send no credentials')
      return
    }
    const headers = { ...req.headers, authorization: `Bearer ${ADMIN_TOKEN}` }
    delete headers.host
    const upstream = httpsRequest(
      `${fixture.server.url}${req.url ?? '/'}`,
      { method: req.method, ca: fixture.pki.caPem, headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        res.flushHeaders()
        up.pipe(res)
      },
    )
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}
