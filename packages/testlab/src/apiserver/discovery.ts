import { apiVersionOf, findType, RESOURCE_TYPES, type ResourceType } from './resource-types.ts'

/**
 * The legacy discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/<g>/<v>`) and `/version`.
 * kubectl 1.32 first asks for aggregated discovery (apidiscovery.k8s.io/v2); a plain
 * `application/json` answer makes it fall back to these documents, so aggregated discovery is not served.
 */
export const KUBERNETES_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0-podlink-lab' }

const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch']
const SUBRESOURCE_VERBS = ['get', 'patch', 'update']

export function versionInfo(): Record<string, string> {
  return {
    ...KUBERNETES_VERSION,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: 'go1.23.0',
    compiler: 'gc',
    platform: 'linux/amd64',
  }
}

/** `GET /api`. */
export function coreApiVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  }
}

function groupEntry(group: string): Record<string, unknown> {
  const versions = [...new Set(RESOURCE_TYPES.filter((t) => t.group === group).map((t) => t.version))]
  const entries = versions.map((version) => ({ groupVersion: `${group}/${version}`, version }))
  return { name: group, versions: entries, preferredVersion: entries[0] }
}

/** `GET /apis`. */
export function apiGroupList(): Record<string, unknown> {
  const groups = [...new Set(RESOURCE_TYPES.map((t) => t.group).filter((g) => g !== ''))]
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(groupEntry) }
}

/** `GET /apis/<group>`, or undefined when no such group is served. */
export function apiGroup(group: string): Record<string, unknown> | undefined {
  if (!RESOURCE_TYPES.some((t) => t.group === group && group !== '')) return undefined
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(group) }
}

/** `GET /api/v1` or `/apis/<g>/<v>`, or undefined when no resource lives there. */
export function apiResourceList(group: string, version: string): Record<string, unknown> | undefined {
  const types = RESOURCE_TYPES.filter((t) => t.group === group && t.version === version)
  if (types.length === 0) return undefined
  const groupVersion = apiVersionOf(types[0]!)
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: types.flatMap((t) => [resourceEntry(t), ...t.subresources.map((s) => subresourceEntry(t, s))]),
  }
}

function resourceEntry(t: ResourceType): Record<string, unknown> {
  const entry: Record<string, unknown> = {
    name: t.plural,
    singularName: t.singular,
    namespaced: t.namespaced,
    kind: t.kind,
    verbs: VERBS,
  }
  if (t.shortNames.length > 0) entry['shortNames'] = t.shortNames
  return entry
}

function subresourceEntry(t: ResourceType, sub: string): Record<string, unknown> {
  return {
    name: `${t.plural}/${sub}`,
    singularName: '',
    namespaced: t.namespaced,
    kind: t.kind,
    verbs: SUBRESOURCE_VERBS,
  }
}

/** Where a resource request points: the type, and the namespace, name and subresource if given. */
export interface ResourceTarget {
  type: ResourceType
  namespace: string | undefined
  name: string | undefined
  subresource: string | undefined
  /** The legacy `/watch/` path prefix was used. */
  watchPath: boolean
}

/**
 * Parses `/api/v1/...` and `/apis/<g>/<v>/...` below the group-version. Returns undefined for
 * paths that name no served resource. `/api/v1/namespaces/x/status` is the Namespace status,
 * `/api/v1/namespaces/x/pods` the pods in x: the third segment decides.
 */
export function parseResourcePath(group: string, version: string, rest: string[]): ResourceTarget | undefined {
  let watchPath = false
  if (rest[0] === 'watch') {
    watchPath = true
    rest = rest.slice(1)
  }
  const [first, second, third, fourth, fifth, ...extra] = rest
  if (first === undefined) return undefined
  if (first === 'namespaces' && second !== undefined && third !== undefined) {
    const type = findType(group, version, third)
    if (type?.namespaced === true && extra.length === 0) {
      return { type, namespace: second, name: fourth, subresource: fifth, watchPath }
    }
  }
  const type = findType(group, version, first)
  if (type === undefined || fourth !== undefined) return undefined
  if (type.namespaced && second !== undefined) return undefined
  return { type, namespace: undefined, name: second, subresource: third, watchPath }
}
