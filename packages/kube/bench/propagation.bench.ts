/**
 * How long a Node change takes to reach the ClusterView: from just before the API write (a
 * replace of one Node's labels, over HTTPS) to the `change` event whose view holds the new value.
 * Runs against the lab's API stand-in on 127.0.0.1 with 1,000 Nodes, for the default coalescing
 * window (50 ms) and for none. Prints median, p95 and max over the runs.
 * Run: node packages/kube/bench/propagation.bench.ts [--quick]
 */
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import { connectKube, createClusterWatcher } from '../src/index.ts'
import { NODES, startApiServerFixture } from '../src/testdata/stand-in.ts'

const quick = process.argv.includes('--quick')
const CLUSTER_NODES = quick ? 200 : 1000
const RUNS = quick ? 10 : 40

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!
}

const fx = await startApiServerFixture()
for (let i = 0; i < CLUSTER_NODES; i++) {
  const name = `node-${String(i).padStart(5, '0')}`
  fx.server.store.create(NODES, {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { step: '0' } },
    spec: { podCIDR: `10.${Math.floor(i / 256)}.${i % 256}.0/24` },
  })
}
const kc = new KubeConfig()
kc.loadFromFile(fx.kubeconfig)
const core = kc.makeApiClient(CoreV1Api)

for (const coalesceMs of [50, 0]) {
  const watcher = createClusterWatcher(connectKube({ mode: 'kubeconfig', path: fx.kubeconfig }), { coalesceMs })
  const t0 = performance.now()
  await watcher.start()
  await watcher.ready()
  const syncMs = performance.now() - t0
  const samples: number[] = []
  for (let run = 1; run <= RUNS; run++) {
    const name = `node-${String(run % CLUSTER_NODES).padStart(5, '0')}`
    const step = `${coalesceMs}-${run}`
    const seen = new Promise<number>((resolve) => {
      const onChange = ({ view }: { view: { nodes: ReadonlyMap<string, { labels: Record<string, string> }> } }) => {
        if (view.nodes.get(name)?.labels['step'] === step) {
          watcher.off('change', onChange)
          resolve(performance.now())
        }
      }
      watcher.on('change', onChange)
    })
    const node = await core.readNode({ name })
    node.metadata!.labels = { step }
    const start = performance.now()
    await core.replaceNode({ name, body: node })
    samples.push((await seen) - start)
  }
  await watcher.stop()
  console.log(
    `coalesceMs=${coalesceMs} nodes=${CLUSTER_NODES} initial sync ${syncMs.toFixed(0)} ms; ` +
      `node change -> view: median ${pct(samples, 0.5).toFixed(1)} ms, p95 ${pct(samples, 0.95).toFixed(1)} ms, ` +
      `max ${Math.max(...samples).toFixed(1)} ms (${RUNS} runs)`,
  )
}
await fx.dispose()
