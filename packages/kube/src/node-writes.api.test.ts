/** NodeAnnotator and EventRecorder against the API stand-in on 127.0.0.1. */
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClusterWatcher, createClusterWatcher } from './cluster-watcher.ts'
import { EventRecorder } from './events/event-recorder.ts'
import { connectKube } from './kube-connection.ts'
import { createKubeWriter, type KubeWriter } from './kube-writer.ts'
import { NodeAnnotator } from './node/node-annotator.ts'
import { type ApiServerFixture, startApiServerFixture, until } from './testdata/stand-in.ts'

let fx: ApiServerFixture
let core: CoreV1Api
let writer: KubeWriter
let watcher: ClusterWatcher

beforeAll(async () => {
  fx = await startApiServerFixture()
  const kc = new KubeConfig()
  kc.loadFromFile(fx.kubeconfig)
  core = kc.makeApiClient(CoreV1Api)
  const connection = connectKube({ mode: 'kubeconfig', path: fx.kubeconfig })
  writer = createKubeWriter(connection)
  watcher = createClusterWatcher(connection, { coalesceMs: 10, backoff: { initialMs: 50, maxMs: 200 } })
  await watcher.start()
  await watcher.ready({ signal: AbortSignal.timeout(5000) })
})
afterAll(async () => {
  await watcher.stop()
  await fx.dispose()
})

const annotationsOf = async (name: string) => (await core.readNode({ name })).metadata?.annotations ?? {}

describe('NodeAnnotator', () => {
  it('sets owned annotations, restores them when removed or edited, and never touches others', async () => {
    await core.createNode({
      body: {
        metadata: {
          name: 'self',
          annotations: { 'flannel.alpha.coreos.com/public-ip': '1.2.3.4', 'podlink.io/old': 'x' },
        },
      },
    })
    const annotator = new NodeAnnotator(
      { nodeName: 'self', backoff: { initialMs: 50, maxMs: 200 } },
      { writer, source: watcher },
    )
    annotator.set({ 'podlink.io/peer-id': '12D3KooWA', 'podlink.io/old': null })
    annotator.start()
    await until(() => watcher.view().nodes.get('self')?.annotations['podlink.io/peer-id'] === '12D3KooWA', 'applied')
    expect(await annotationsOf('self')).toEqual({
      'flannel.alpha.coreos.com/public-ip': '1.2.3.4',
      'podlink.io/peer-id': '12D3KooWA',
    })

    // Someone removes ours and adds their own.
    const node = await core.readNode({ name: 'self' })
    node.metadata!.annotations = { 'flannel.alpha.coreos.com/public-ip': '1.2.3.4', 'other.io/x': 'y' }
    await core.replaceNode({ name: 'self', body: node })
    await until(() => watcher.view().nodes.get('self')?.annotations['other.io/x'] === 'y', 'removal seen')
    await until(() => watcher.view().nodes.get('self')?.annotations['podlink.io/peer-id'] === '12D3KooWA', 'restored')
    expect(await annotationsOf('self')).toEqual({
      'flannel.alpha.coreos.com/public-ip': '1.2.3.4',
      'other.io/x': 'y',
      'podlink.io/peer-id': '12D3KooWA',
    })
    expect(annotator.status()).toMatchObject({ inSync: true, lastError: null })
    annotator.stop()
  })

  it('retries with backoff while the Node does not exist yet', async () => {
    const annotator = new NodeAnnotator(
      { nodeName: 'late', backoff: { initialMs: 20, maxMs: 50 } },
      { writer, source: watcher },
    )
    annotator.set({ 'podlink.io/peer-id': 'late-id' })
    annotator.start()
    await until(() => annotator.status().lastError !== null, 'first failure')
    expect(annotator.status().lastError).toMatch(/Cannot patch the annotations of Node late as the API answered 404/)
    await core.createNode({ body: { metadata: { name: 'late' } } })
    await until(() => watcher.view().nodes.get('late')?.annotations['podlink.io/peer-id'] === 'late-id', 'applied late')
    annotator.stop()
  })
})

describe('EventRecorder', () => {
  it('creates one Event per distinct event and counts repeats', async () => {
    const recorder = new EventRecorder({ instance: 'self' }, { writer })
    const conflict = {
      node: 'self',
      type: 'Warning' as const,
      reason: 'PodCIDRConflict',
      message: 'Cannot route 10.244.1.0/24 as a and b claim it',
    }
    expect(await recorder.record(conflict)).toBe('created')
    const repeats = await Promise.all([recorder.record(conflict), recorder.record(conflict)])
    expect(repeats).toEqual(['counted', 'counted'])
    expect(
      await recorder.record({ ...conflict, type: 'Normal', reason: 'PeerConnected', message: 'b via relay' }),
    ).toBe('created')
    const events = (await core.listNamespacedEvent({ namespace: 'default' })).items.filter(
      (e) => e.involvedObject.name === 'self',
    )
    const byReason = Object.fromEntries(events.map((e) => [e.reason, e]))
    expect(events).toHaveLength(2)
    expect(byReason['PodCIDRConflict']).toMatchObject({
      count: 3,
      type: 'Warning',
      message: conflict.message,
      involvedObject: { kind: 'Node', name: 'self' },
      reportingComponent: 'podlink-agent',
      reportingInstance: 'self',
      source: { component: 'podlink-agent', host: 'self' },
    })
    expect(byReason['PeerConnected']?.count).toBe(1)
  })

  it('drops writes beyond the rate limit', async () => {
    const recorder = new EventRecorder({ instance: 'self', burst: 3, refillMs: 60_000 }, { writer })
    const outcomes = []
    for (let i = 0; i < 5; i++) {
      outcomes.push(await recorder.record({ node: 'self', type: 'Normal', reason: 'Flap', message: `flap ${i}` }))
    }
    expect(outcomes).toEqual(['created', 'created', 'created', 'dropped', 'dropped'])
    expect(recorder.dropped).toBe(2)
  })
})
