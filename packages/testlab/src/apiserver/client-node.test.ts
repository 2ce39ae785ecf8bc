/**
 * Contract suite: the official JavaScript client (@kubernetes/client-node 2.0.1, what podlink's
 * `kube` package uses) against the stand-in, over HTTPS with a kubeconfig from writeKubeconfig.
 */
import {
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  type KubernetesObject,
  ListWatch,
  makeInformer,
  type V1EndpointSlice,
  type V1Node,
  Watch,
} from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ApiServerFixture, startApiServerFixture } from './api-server-fixture.ts'

let fx: ApiServerFixture
let kc: KubeConfig
let core: CoreV1Api

beforeAll(async () => {
  fx = await startApiServerFixture({ watchWindow: 50 })
  kc = new KubeConfig()
  kc.loadFromFile(fx.kubeconfig)
  core = kc.makeApiClient(CoreV1Api)
})
afterAll(async () => fx.dispose())

/** Polls `check` until it holds; the stand-in's watch latency is milliseconds, so 5 s means broken. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

function node(name: string, labels: Record<string, string> = {}): V1Node {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels } }
}

/** A Watch that records every event it hands to the informer, so tests can see the 410 itself. */
class RecordingWatch extends Watch {
  readonly seen: Array<{ phase: string; code?: number; name?: string }> = []
  override watch(
    path: string,
    params: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(
      path,
      params,
      (phase, obj, raw) => {
        const o = obj as { code?: number; metadata?: { name?: string } }
        this.seen.push({
          phase,
          ...(o.code === undefined ? {} : { code: o.code }),
          ...(o.metadata?.name === undefined ? {} : { name: o.metadata.name }),
        })
        callback(phase, obj, raw)
      },
      done,
    )
  }
}

describe('informer on Nodes', () => {
  it('sees adds, updates and deletes in order', async () => {
    const informer = makeInformer(
      kc,
      '/api/v1/nodes',
      () => core.listNode({ labelSelector: 'suite=order' }),
      'suite=order',
    )
    const events: string[] = []
    informer.on('add', (n) => events.push(`add ${n.metadata?.name} ${n.metadata?.labels?.['step']}`))
    informer.on('update', (n) => events.push(`update ${n.metadata?.name} ${n.metadata?.labels?.['step']}`))
    informer.on('delete', (n) => events.push(`delete ${n.metadata?.name}`))
    await core.createNode({ body: node('order-a', { suite: 'order', step: '0' }) })
    await informer.start()
    await until(() => events.length === 1, 'initial list')
    await core.createNode({ body: node('order-b', { suite: 'order', step: '0' }) })
    const a = await core.readNode({ name: 'order-a' })
    a.metadata!.labels!['step'] = '1'
    await core.replaceNode({ name: 'order-a', body: a })
    await core.deleteNode({ name: 'order-b' })
    // Leaving the selector is a DELETED event for this watch, as upstream.
    a.metadata!.labels!['suite'] = 'other'
    a.metadata!.resourceVersion = ''
    await core.replaceNode({ name: 'order-a', body: a })
    await until(() => events.length === 5, 'five events')
    await informer.stop()
    expect(events).toEqual(['add order-a 0', 'add order-b 0', 'update order-a 1', 'delete order-b', 'delete order-a'])
    expect(informer.list()).toEqual([])
  })

  it('relists after a resume from an expired resourceVersion gets 410', async () => {
    const watch = new RecordingWatch(kc)
    const listFn = () => core.listNode({ labelSelector: 'suite=expire' })
    const informer = new ListWatch<V1Node>('/api/v1/nodes', watch, listFn, false, 'suite=expire')
    const deleted: string[] = []
    informer.on('delete', (n) => deleted.push(n.metadata!.name!))
    await core.createNode({ body: node('expire-a', { suite: 'expire' }) })
    await informer.start()
    await until(() => informer.list().length === 1, 'initial list')
    await informer.stop()
    const staleVersion = informer.latestResourceVersion()

    // While the informer is away: a change it will miss, then the window is dropped.
    await core.createNode({ body: node('expire-b', { suite: 'expire' }) })
    await core.deleteNode({ name: 'expire-a' })
    fx.server.compact()
    await informer.start()
    await until(
      () =>
        informer
          .list()
          .map((n) => n.metadata?.name)
          .join() === 'expire-b',
      'relisted set',
    )
    await core.createNode({ body: node('expire-c', { suite: 'expire' }) })
    await until(() => informer.list().length === 2, 'watch after relist')
    await informer.stop()

    expect(Number(staleVersion)).toBeLessThan(fx.server.store.oldestResumableVersion)
    expect(watch.seen[0]).toEqual({ phase: 'ERROR', code: 410 })
    expect(watch.seen.at(-1)).toEqual({ phase: 'ADDED', name: 'expire-c' })
    expect(deleted).toEqual(['expire-a'])
    expect(
      informer
        .list()
        .map((n) => n.metadata?.name)
        .sort(),
    ).toEqual(['expire-b', 'expire-c'])
  })
})

describe('EndpointSlices', () => {
  it('follow Pods, Services and Nodes', async () => {
    const discovery = kc.makeApiClient(DiscoveryV1Api)
    const path = '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices'
    const informer = makeInformer(kc, path, () => discovery.listNamespacedEndpointSlice({ namespace: 'default' }))
    await informer.start()
    const slice = (): V1EndpointSlice | undefined =>
      informer.list().find((s: KubernetesObject) => s.metadata?.labels?.['kubernetes.io/service-name'] === 'web') as
        | V1EndpointSlice
        | undefined

    await core.createNode({ body: node('eps-node', { 'topology.kubernetes.io/zone': 'edge-1' }) })
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
    const svc = await core.createNamespacedService({
      namespace: 'default',
      body: {
        metadata: { name: 'web' },
        spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
      },
    })
    expect(svc.spec?.clusterIP).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\./)

    await until(() => slice()?.endpoints?.length === 1, 'endpoint of web-1')
    expect(slice()?.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }])
    expect(slice()?.endpoints?.[0]).toMatchObject({
      addresses: ['10.244.1.2'],
      conditions: { ready: true },
      nodeName: 'eps-node',
      zone: 'edge-1',
      targetRef: { kind: 'Pod', name: 'web-1' },
    })

    const current = await core.readNamespacedPod({ name: 'web-1', namespace: 'default' })
    current.status!.conditions = [{ type: 'Ready', status: 'False' }]
    await core.replaceNamespacedPodStatus({ name: 'web-1', namespace: 'default', body: current })
    await until(() => slice()?.endpoints?.[0]?.conditions?.ready === false, 'not ready')

    await core.deleteNamespacedPod({ name: 'web-1', namespace: 'default' })
    await until(() => slice()?.endpoints?.length === 0, 'no endpoints')
    await core.deleteNamespacedService({ name: 'web', namespace: 'default' })
    await until(() => slice() === undefined, 'slice deleted')
    await informer.stop()
  })
})
