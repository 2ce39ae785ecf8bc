/**
 * The resources this API stand-in serves, described once: routing, discovery, the store and the
 * printers all read this table, so a resource added here is served everywhere at once.
 */
export interface ResourceType {
  /** '' for the core group. */
  group: string
  version: string
  plural: string
  singular: string
  kind: string
  namespaced: boolean
  shortNames: string[]
  /** Subresources served beside the main resource; `status` gets the real split of spec and status. */
  subresources: string[]
}

export interface ObjectMeta {
  name: string
  namespace?: string
  generateName?: string
  uid?: string
  resourceVersion?: string
  generation?: number
  creationTimestamp?: string
  deletionTimestamp?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
  ownerReferences?: Array<Record<string, unknown>>
  [key: string]: unknown
}

/** Any Kubernetes object on the wire. Fields other than metadata are read through typed views. */
export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: ObjectMeta
  [key: string]: unknown
}

export const RESOURCE_TYPES: readonly ResourceType[] = [
  core('nodes', 'node', 'Node', false, ['no'], ['status']),
  core('pods', 'pod', 'Pod', true, ['po'], ['status']),
  core('services', 'service', 'Service', true, ['svc'], ['status']),
  core('namespaces', 'namespace', 'Namespace', false, ['ns'], ['status']),
  core('events', 'event', 'Event', true, ['ev'], []),
  {
    group: 'discovery.k8s.io',
    version: 'v1',
    plural: 'endpointslices',
    singular: 'endpointslice',
    kind: 'EndpointSlice',
    namespaced: true,
    shortNames: [],
    subresources: [],
  },
  {
    group: 'coordination.k8s.io',
    version: 'v1',
    plural: 'leases',
    singular: 'lease',
    kind: 'Lease',
    namespaced: true,
    shortNames: [],
    subresources: [],
  },
]

function core(
  plural: string,
  singular: string,
  kind: string,
  namespaced: boolean,
  shortNames: string[],
  subresources: string[],
): ResourceType {
  return { group: '', version: 'v1', plural, singular, kind, namespaced, shortNames, subresources }
}

/** `v1` or `discovery.k8s.io/v1`: the value of `apiVersion` for this resource's objects. */
export function apiVersionOf(type: ResourceType): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`
}

/** The name the real server uses in messages: `nodes`, `endpointslices.discovery.k8s.io`. */
export function qualifiedName(type: ResourceType): string {
  return type.group === '' ? type.plural : `${type.plural}.${type.group}`
}

/** Stable key of a resource type inside the store and the state file. */
export function typeKey(type: ResourceType): string {
  return `${apiVersionOf(type)}/${type.plural}`
}

export function findType(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.group === group && t.version === version && t.plural === plural)
}

export function findTypeByKind(apiVersion: string, kind: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => apiVersionOf(t) === apiVersion && t.kind === kind)
}

export function mustFindType(group: string, plural: string): ResourceType {
  const type = RESOURCE_TYPES.find((t) => t.group === group && t.plural === plural)
  if (type === undefined) throw new Error(`unknown resource ${plural}.${group}`)
  return type
}

export const NODES = mustFindType('', 'nodes')
export const PODS = mustFindType('', 'pods')
export const SERVICES = mustFindType('', 'services')
export const NAMESPACES = mustFindType('', 'namespaces')
export const ENDPOINT_SLICES = mustFindType('discovery.k8s.io', 'endpointslices')
