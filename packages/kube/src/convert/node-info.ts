import type { NodeAddress, NodeInfo } from '@podlink/core'
import { asArray, asRecord, asString, asStringMap, objectName } from './json-fields.ts'

/**
 * core/v1 Node -> NodeInfo. Pod CIDRs are kept as the raw strings written on the Node (routing
 * validates them and reports bad ones as conflicts); `spec.podCIDRs` wins over the older
 * `spec.podCIDR`, as upstream. Returns undefined only for an object without a name.
 */
export function toNodeInfo(obj: unknown): NodeInfo | undefined {
  const id = objectName(obj)
  if (id === undefined) return undefined
  const root = asRecord(obj)
  const meta = asRecord(root?.['metadata'])
  const spec = asRecord(root?.['spec'])
  const status = asRecord(root?.['status'])
  return {
    name: id.name,
    podCIDRs: podCIDRsOf(spec),
    addresses: addressesOf(status),
    labels: asStringMap(meta?.['labels']),
    annotations: asStringMap(meta?.['annotations']),
  }
}

function podCIDRsOf(spec: ReturnType<typeof asRecord>): string[] {
  const list = asArray(spec?.['podCIDRs']).filter((c): c is string => typeof c === 'string' && c !== '')
  if (list.length > 0) return list
  const single = asString(spec?.['podCIDR'])
  return single === undefined || single === '' ? [] : [single]
}

function addressesOf(status: ReturnType<typeof asRecord>): NodeAddress[] {
  const out: NodeAddress[] = []
  for (const entry of asArray(status?.['addresses'])) {
    const rec = asRecord(entry)
    const type = asString(rec?.['type'])
    const address = asString(rec?.['address'])
    if (type !== undefined && address !== undefined && address !== '') out.push({ type, address })
  }
  return out
}
