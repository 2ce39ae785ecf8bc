/**
 * The Kubernetes API stand-in of the podlink lab: a real HTTPS API server for Nodes, Pods,
 * Services, Namespaces, Events (core/v1), EndpointSlices (discovery.k8s.io/v1) and Leases
 * (coordination.k8s.io/v1), speaking the wire protocol that kubectl and @kubernetes/client-node use.
 *
 * Served: list (limit/continue, labelSelector, fieldSelector on any dotted path), watch (replay
 * from resourceVersion, bookmarks, timeoutSeconds, 410 Expired as an ERROR event past the window),
 * get, create (generateName), update (409 on a stale resourceVersion), patch (json, merge,
 * strategic merge for the fields listed in strategic-merge-patch.ts), delete, `/status` for
 * nodes, pods, services and namespaces; discovery, server-side Tables, an empty OpenAPI v2.
 *
 * Not served: RBAC (every token may do everything), server-side apply, dryRun, deletecollection,
 * graceful deletion (deletes are immediate; a Namespace takes its contents with it), aggregated
 * discovery, OpenAPI v3, protobuf, admission, validation beyond names and ClusterIPs.
 */
export { ApiError, type StatusObject } from './api-error.ts'
export type { ApiServerOptions, RunningApiServer } from './api-server.ts'
export { startApiServer } from './api-server.ts'
export { type ApiServerConfig, parseApiServerConfig } from './api-server-config.ts'
export { type KubeconfigOptions, renderKubeconfig, writeKubeconfig } from './kubeconfig.ts'
export { type LabPki, type LabPkiOptions, makeLabPki } from './lab-pki.ts'
export type { ObjectStore, StoreEvent, StoreState } from './object-store.ts'
export {
  ENDPOINT_SLICES,
  type KubeObject,
  NAMESPACES,
  NODES,
  PODS,
  RESOURCE_TYPES,
  type ResourceType,
  SERVICES,
} from './resource-types.ts'
