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
