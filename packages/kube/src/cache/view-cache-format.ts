import type { ClusterView, EndpointInfo, NodeInfo, ServiceInfo } from '@podlink/core'
import { PodlinkError } from '@podlink/core'
import { asArray, asInteger, asRecord, asString, asStringMap } from '../convert/json-fields.ts'
import { toPorts } from '../convert/service-info.ts'

export const VIEW_CACHE_API_VERSION = 'podlink.io/view-cache/v1'

/** A view as it was saved, with the versions it was current at. */
export interface CachedView {
  readonly view: ClusterView
  readonly resourceVersions: Readonly<Record<string, string>>
  /** ISO time of the save. */
  readonly savedAt: string
}

/** ClusterView -> the cache file's JSON text. */
export function serializeView(cached: CachedView): string {
  return JSON.stringify({
    apiVersion: VIEW_CACHE_API_VERSION,
    savedAt: cached.savedAt,
    resourceVersions: cached.resourceVersions,
    nodes: [...cached.view.nodes.values()],
    services: [...cached.view.services.values()],
    endpoints: Object.fromEntries(cached.view.endpoints),
  })
}

/**
 * The cache file's text -> CachedView. The file is ours, but a disk or a person may have mangled
 * it, so every entry is checked: throws PodlinkError `kube-cache-corrupt` when the file is not a
 * view cache at all; entries that are malformed are dropped.
 */
export function parseView(text: string, path: string): CachedView {
  let root: Record<string, unknown> | undefined
  try {
    root = asRecord(JSON.parse(text)) as Record<string, unknown> | undefined
  } catch (err) {
    throw new PodlinkError('kube-cache-corrupt', `Cannot read the view cache ${path} as it is not JSON`, { cause: err })
  }
  if (root?.['apiVersion'] !== VIEW_CACHE_API_VERSION) {
    throw new PodlinkError(
      'kube-cache-corrupt',
      `Cannot read the view cache ${path} as its apiVersion is not ${VIEW_CACHE_API_VERSION}`,
    )
  }
  const nodes = new Map<string, NodeInfo>()
  for (const entry of asArray(root['nodes'])) {
    const node = parseNode(entry)
    if (node !== undefined) nodes.set(node.name, node)
  }
  const services = new Map<string, ServiceInfo>()
  for (const entry of asArray(root['services'])) {
    const service = parseService(entry)
    if (service !== undefined) services.set(`${service.namespace}/${service.name}`, service)
  }
  const endpoints = new Map<string, EndpointInfo[]>()
  for (const [key, list] of Object.entries(asRecord(root['endpoints']) ?? {})) {
    endpoints.set(
      key,
      asArray(list).flatMap((e) => parseEndpoint(e) ?? []),
    )
  }
  return {
    view: { nodes, services, endpoints },
    resourceVersions: asStringMap(root['resourceVersions']),
    savedAt: asString(root['savedAt']) ?? '',
  }
}

function strings(value: unknown): string[] {
  return asArray(value).filter((s): s is string => typeof s === 'string')
}

function parseNode(value: unknown): NodeInfo | undefined {
  const rec = asRecord(value)
  const name = asString(rec?.['name'])
  if (rec === undefined || name === undefined) return undefined
  const addresses = asArray(rec['addresses']).flatMap((a) => {
    const type = asString(asRecord(a)?.['type'])
    const address = asString(asRecord(a)?.['address'])
    return type === undefined || address === undefined ? [] : [{ type, address }]
  })
  return {
    name,
    podCIDRs: strings(rec['podCIDRs']),
    addresses,
    labels: asStringMap(rec['labels']),
    annotations: asStringMap(rec['annotations']),
  }
}

function parseService(value: unknown): ServiceInfo | undefined {
  const rec = asRecord(value)
  const namespace = asString(rec?.['namespace'])
  const name = asString(rec?.['name'])
  if (rec === undefined || namespace === undefined || name === undefined) return undefined
  return {
    namespace,
    name,
    clusterIPs: strings(rec['clusterIPs']),
    ports: toPorts(rec['ports']),
    sessionAffinity: rec['sessionAffinity'] === 'ClientIP' ? 'ClientIP' : 'None',
    affinityTimeoutSeconds: asInteger(rec['affinityTimeoutSeconds'], 1, 86_400) ?? 10_800,
    ...(rec['preferClose'] === true ? { preferClose: true } : {}),
  }
}

function parseEndpoint(value: unknown): EndpointInfo | undefined {
  const rec = asRecord(value)
  const address = asString(rec?.['address'])
  if (rec === undefined || address === undefined) return undefined
  const nodeName = asString(rec['nodeName'])
  const zone = asString(rec['zone'])
  const hintZones = rec['hintZones'] === undefined ? undefined : strings(rec['hintZones'])
  return {
    address,
    ready: rec['ready'] !== false,
    ports: toPorts(rec['ports']),
    ...(nodeName === undefined ? {} : { nodeName }),
    ...(zone === undefined ? {} : { zone }),
    ...(hintZones === undefined ? {} : { hintZones }),
  }
}
