import type { EndpointInfo } from '@podlink/core'
import { asArray, asRecord, asString, asStringMap, objectName } from './json-fields.ts'
import { toPorts } from './service-info.ts'

/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name'

/** One EndpointSlice, distilled: which Service it belongs to and its endpoints. */
export interface SliceInfo {
  /** `namespace/name` of the owning Service. */
  readonly service: string
  readonly endpoints: readonly EndpointInfo[]
}

/**
 * discovery.k8s.io/v1 EndpointSlice -> SliceInfo. Undefined for a slice without a name or a
 * `kubernetes.io/service-name` label. FQDN slices yield no endpoints (podlink routes IPs only).
 * `conditions.ready` unset counts as ready, as the API documents ("unknown ... should be
 * interpreted as ready").
 */
export function toSliceInfo(obj: unknown): SliceInfo | undefined {
  const id = objectName(obj)
  if (id === undefined) return undefined
  const root = asRecord(obj)
  const service = asStringMap(asRecord(root?.['metadata'])?.['labels'])[SERVICE_NAME_LABEL]
  if (service === undefined || service === '') return undefined
  const key = `${id.namespace ?? 'default'}/${service}`
  if (asString(root?.['addressType']) === 'FQDN') return { service: key, endpoints: [] }
  const ports = toPorts(root?.['ports'])
  const endpoints: EndpointInfo[] = []
  for (const entry of asArray(root?.['endpoints'])) {
    const ep = asRecord(entry)
    if (ep === undefined) continue
    const nodeName = asString(ep['nodeName'])
    const zone = asString(ep['zone'])
    const hintZones = asArray(asRecord(ep['hints'])?.['forZones'])
      .map((z) => asString(asRecord(z)?.['name']))
      .filter((z): z is string => z !== undefined && z !== '')
    const ready = asRecord(ep['conditions'])?.['ready'] !== false
    for (const address of asArray(ep['addresses'])) {
      if (typeof address !== 'string' || address === '') continue
      endpoints.push({
        address,
        ready,
        ports,
        ...(nodeName === undefined || nodeName === '' ? {} : { nodeName }),
        ...(zone === undefined || zone === '' ? {} : { zone }),
        ...(hintZones.length === 0 ? {} : { hintZones }),
      })
    }
  }
  return { service: key, endpoints }
}
