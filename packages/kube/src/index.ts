/**
 * @packageDocumentation
 * The Kubernetes side of podlink: informers on Nodes, Services and EndpointSlices combined into
 * one ClusterView (in-cluster, kubeconfig or KubeEdge MetaServer), a last-known-state cache on
 * disk, the agent's own Node annotations, and Events. @kubernetes/client-node stays inside.
 */

export { VIEW_CACHE_FILE, ViewCache } from './cache/view-cache.ts'
export type { CachedView } from './cache/view-cache-format.ts'
export type { ClusterChange, ClusterSource, ClusterSourceEvents } from './cluster-source.ts'
export {
  ClusterWatcher,
  type ClusterWatcherDeps,
  type ClusterWatcherOptions,
  createClusterWatcher,
  groupSlices,
} from './cluster-watcher.ts'
export { SERVICE_NAME_LABEL, type SliceInfo, toSliceInfo } from './convert/endpoint-slice.ts'
export { toNodeInfo } from './convert/node-info.ts'
export { DEFAULT_AFFINITY_TIMEOUT_SECONDS, toServiceInfo } from './convert/service-info.ts'
export {
  EventRecorder,
  type EventRecorderDeps,
  type EventRecorderOptions,
  type NodeEvent,
  REPORTING_COMPONENT,
  type RecordOutcome,
} from './events/event-recorder.ts'
export { connectKube, type KubeConnection, type KubeConnectionOptions, SERVICE_ACCOUNT_DIR } from './kube-connection.ts'
export { createKubeWriter, type EventBody, KubeApiError, type KubeWriter } from './kube-writer.ts'
export { annotationPatch, OWNED_PREFIX } from './node/annotation-patch.ts'
export {
  NodeAnnotator,
  type NodeAnnotatorDeps,
  type NodeAnnotatorOptions,
  type NodeAnnotatorStatus,
} from './node/node-annotator.ts'
export { type BackoffOptions, backoffDelay } from './watch/backoff.ts'
export { type ClusterWatches, createClusterWatches } from './watch/cluster-watches.ts'
export type { ResourceWatch, ResourceWatchStatus, WatchedResource } from './watch/resource-watch.ts'
export { systemTimers, type TimerHandle, type Timers } from './watch/timers.ts'
