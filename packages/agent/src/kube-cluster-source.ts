/** The agent's ClusterSource over the real API: watcher + own-Node annotator + event recorder. */
import type { Logger } from '@podlink/core'
import {
  connectKube,
  createClusterWatcher,
  createKubeWriter,
  EventRecorder,
  type KubeConnectionOptions,
  NodeAnnotator,
} from '@podlink/kube'
import type { ClusterSource } from './cluster-source.ts'
import type { AgentConfig } from './config/agent-config.ts'

function connectionOptions(config: AgentConfig): KubeConnectionOptions {
  switch (config.kube.mode) {
    case 'kubeconfig':
      return { mode: 'kubeconfig', path: config.kube.kubeconfig ?? '' }
    case 'metaserver':
      return { mode: 'metaserver', url: config.kube.metaServerUrl }
    default:
      return { mode: 'in-cluster' }
  }
}

export function createKubeClusterSource(config: AgentConfig, log: Logger): ClusterSource {
  const connection = connectKube(connectionOptions(config))
  const watcher = createClusterWatcher(
    connection,
    { stateDir: config.stateDir },
    { logger: log.child({ component: 'kube' }) },
  )
  const writer = createKubeWriter(connection)
  const annotator = new NodeAnnotator({ nodeName: config.nodeName }, { writer, source: watcher, logger: log })
  const recorder = new EventRecorder({ instance: config.nodeName }, { writer, logger: log })
  return {
    async start(signal) {
      await watcher.start(signal ? { signal } : {})
      await watcher.ready(signal ? { signal } : {})
      annotator.start()
    },
    async stop() {
      annotator.stop()
      await watcher.stop()
    },
    view: () => watcher.view(),
    status: () => watcher.status(),
    onChange(listener) {
      watcher.on('change', () => listener())
    },
    publishAnnotations(annotations) {
      annotator.set(annotations)
    },
    recordEvent(event) {
      recorder
        .record(event)
        .catch((err: unknown) => log.warn({ err: String(err), reason: event.reason }, 'could not record event'))
    },
  }
}
