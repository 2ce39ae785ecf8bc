import { CoreV1Api, DiscoveryV1Api } from '@kubernetes/client-node'
import type { NodeInfo, ServiceInfo } from '@podlink/core'
import { type SliceInfo, toSliceInfo } from '../convert/endpoint-slice.ts'
import { toNodeInfo } from '../convert/node-info.ts'
import { toServiceInfo } from '../convert/service-info.ts'
import { type KubeConnection, kubeConfigOf } from '../kube-connection.ts'
import { InformerWatch, type InformerWatchDeps } from './informer-watch.ts'
import type { ResourceWatch } from './resource-watch.ts'

/** The three watches a ClusterWatcher combines. */
export interface ClusterWatches {
  readonly nodes: ResourceWatch<NodeInfo>
  readonly services: ResourceWatch<ServiceInfo>
  readonly endpointSlices: ResourceWatch<SliceInfo>
}

/** Informers on Nodes, Services (all namespaces) and discovery.k8s.io/v1 EndpointSlices. */
export function createClusterWatches(
  connection: KubeConnection,
  deps: Omit<InformerWatchDeps, 'kubeConfig'> = {},
): ClusterWatches {
  const kubeConfig = kubeConfigOf(connection)
  const core = kubeConfig.makeApiClient(CoreV1Api)
  const discovery = kubeConfig.makeApiClient(DiscoveryV1Api)
  const shared = { ...deps, kubeConfig }
  return {
    nodes: new InformerWatch(
      { resource: 'nodes', path: '/api/v1/nodes', list: () => core.listNode(), convert: toNodeInfo },
      shared,
    ),
    services: new InformerWatch(
      {
        resource: 'services',
        path: '/api/v1/services',
        list: () => core.listServiceForAllNamespaces(),
        convert: toServiceInfo,
      },
      shared,
    ),
    endpointSlices: new InformerWatch(
      {
        resource: 'endpointslices',
        path: '/apis/discovery.k8s.io/v1/endpointslices',
        list: () => discovery.listEndpointSliceForAllNamespaces(),
        convert: toSliceInfo,
      },
      shared,
    ),
  }
}
