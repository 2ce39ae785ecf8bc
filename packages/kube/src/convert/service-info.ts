import type { L4Protocol, ServiceInfo, ServicePortInfo } from '@podlink/core'
import { asArray, asInteger, asRecord, asString, objectName } from './json-fields.ts'

/** Kubernetes' default for `sessionAffinityConfig.clientIP.timeoutSeconds` (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10_800
/** The API's upper bound for that timeout (one day). */
const MAX_AFFINITY_TIMEOUT_SECONDS = 86_400

/**
 * core/v1 Service -> ServiceInfo. Headless (`clusterIP: None`) and ExternalName Services get no
 * ClusterIPs; ports other than TCP and UDP are dropped (podlink carries only those two).
 */
export function toServiceInfo(obj: unknown): ServiceInfo | undefined {
  const id = objectName(obj)
  if (id === undefined) return undefined
  const spec = asRecord(asRecord(obj)?.['spec'])
  const affinity = asString(spec?.['sessionAffinity']) === 'ClientIP' ? 'ClientIP' : 'None'
  const timeout = asInteger(
    asRecord(asRecord(spec?.['sessionAffinityConfig'])?.['clientIP'])?.['timeoutSeconds'],
    1,
    MAX_AFFINITY_TIMEOUT_SECONDS,
  )
  return {
    namespace: id.namespace ?? 'default',
    name: id.name,
    clusterIPs: clusterIPsOf(spec),
    ports: toPorts(spec?.['ports']),
    sessionAffinity: affinity,
    affinityTimeoutSeconds: timeout ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS,
    ...(prefersClose(obj, spec) ? { preferClose: true } : {}),
  }
}

/** trafficDistribution PreferClose (1.31), PreferSameZone / PreferSameNode (1.33), or topology-aware routing's annotation. */
function prefersClose(obj: unknown, spec: ReturnType<typeof asRecord>): boolean {
  const td = asString(spec?.['trafficDistribution'])
  if (td === 'PreferClose' || td === 'PreferSameZone' || td === 'PreferSameNode') return true
  const annotations = asRecord(asRecord(asRecord(obj)?.['metadata'])?.['annotations'])
  const mode = asString(annotations?.['service.kubernetes.io/topology-mode'])
  return mode !== undefined && mode.toLowerCase() === 'auto'
}

function clusterIPsOf(spec: ReturnType<typeof asRecord>): string[] {
  const single = asString(spec?.['clusterIP'])
  if (single === 'None') return []
  const list = asArray(spec?.['clusterIPs']).filter((ip): ip is string => typeof ip === 'string')
  const all = list.length > 0 ? list : single === undefined ? [] : [single]
  return all.filter((ip) => ip !== '' && ip !== 'None')
}

/**
 * Service or EndpointSlice `ports` -> ServicePortInfo. Protocol defaults to TCP (as the API
 * defaults it) and is lowercased; SCTP and unknown protocols, and ports without a valid number
 * (an EndpointSlice port may be unset, meaning "all ports"), are dropped.
 */
export function toPorts(value: unknown): ServicePortInfo[] {
  const out: ServicePortInfo[] = []
  for (const entry of asArray(value)) {
    const rec = asRecord(entry)
    const port = asInteger(rec?.['port'], 1, 65_535)
    const protocol = toProtocol(rec?.['protocol'])
    if (port === undefined || protocol === undefined) continue
    out.push({ name: asString(rec?.['name']) ?? '', port, protocol })
  }
  return out
}

function toProtocol(value: unknown): L4Protocol | undefined {
  if (value === undefined || value === null) return 'tcp'
  const lower = typeof value === 'string' ? value.toLowerCase() : undefined
  return lower === 'tcp' || lower === 'udp' ? lower : undefined
}
