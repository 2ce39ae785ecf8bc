import { badRequest } from './api-error.ts'
import { isPlainObject } from './canonical-json.ts'

/**
 * Kubernetes strategic merge patch, for the fields of the served kinds whose Go types declare a
 * `patchStrategy:"merge"`. Every other list is replaced whole, as upstream does for atomic lists.
 *
 * Supported: map merge with `null` deleting a key; merge of object lists by their merge key (an
 * item `{$patch: delete}` removes, `{$patch: replace}` replaces the whole list); merge of primitive
 * lists as a union; `$patch: replace|delete` and `$retainKeys` in maps;
 * `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>`. That is what kubectl's
 * `apply`, `label`, `annotate` and `edit` produce for the kinds served here.
 */
const MERGE_KEYS: Record<string, string> = {
  '*:metadata.ownerReferences': 'uid',
  'Pod:spec.containers': 'name',
  'Pod:spec.initContainers': 'name',
  'Pod:spec.ephemeralContainers': 'name',
  'Pod:spec.containers.ports': 'containerPort',
  'Pod:spec.initContainers.ports': 'containerPort',
  'Pod:spec.containers.env': 'name',
  'Pod:spec.initContainers.env': 'name',
  'Pod:spec.containers.volumeMounts': 'mountPath',
  'Pod:spec.initContainers.volumeMounts': 'mountPath',
  'Pod:spec.volumes': 'name',
  'Pod:spec.imagePullSecrets': 'name',
  'Pod:spec.hostAliases': 'ip',
  'Pod:status.conditions': 'type',
  'Pod:status.podIPs': 'ip',
  'Node:status.conditions': 'type',
  'Node:status.addresses': 'type',
  'Namespace:status.conditions': 'type',
  'Service:spec.ports': 'port',
}

/** Lists of scalars that merge as sets. */
const PRIMITIVE_MERGE: ReadonlySet<string> = new Set(['*:metadata.finalizers', 'Node:spec.podCIDRs'])

type Json = unknown
type JsonMap = Record<string, Json>

export function applyStrategicMergePatch(kind: string, original: JsonMap, patch: Json): JsonMap {
  if (!isPlainObject(patch)) throw badRequest('strategic merge patch must be a JSON object')
  const result = mergeMap(kind, [], original, patch)
  if (result === undefined) throw badRequest('strategic merge patch cannot delete the whole object')
  return result
}

function mergeMap(kind: string, path: string[], original: JsonMap, patch: JsonMap): JsonMap | undefined {
  const directive = patch['$patch']
  if (directive === 'delete') return undefined
  if (directive === 'replace') return stripDirectives(patch) as JsonMap
  const out: JsonMap = { ...original }
  const retain = patch['$retainKeys']
  if (Array.isArray(retain)) {
    for (const key of Object.keys(out)) if (!retain.includes(key)) delete out[key]
  }
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch' || key === '$retainKeys') continue
    if (key.startsWith('$setElementOrder/')) continue
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length)
      const current = out[field]
      if (Array.isArray(current) && Array.isArray(value)) out[field] = current.filter((v) => !value.includes(v))
      continue
    }
    if (value === null) {
      delete out[key]
      continue
    }
    const childPath = [...path, key]
    const current = out[key]
    if (isPlainObject(value)) {
      const merged = mergeMap(kind, childPath, isPlainObject(current) ? current : {}, value)
      if (merged === undefined) delete out[key]
      else out[key] = merged
    } else if (Array.isArray(value)) {
      out[key] = mergeList(kind, childPath, Array.isArray(current) ? current : [], value)
    } else {
      out[key] = value
    }
  }
  for (const [key, order] of Object.entries(patch)) {
    if (!key.startsWith('$setElementOrder/') || !Array.isArray(order)) continue
    const field = key.slice('$setElementOrder/'.length)
    const list = out[field]
    if (Array.isArray(list)) out[field] = reorder(list, order, mergeKeyFor(kind, [...path, field]))
  }
  return out
}

function mergeList(kind: string, path: string[], original: Json[], patch: Json[]): Json[] {
  if (patch.some((item) => isPlainObject(item) && item['$patch'] === 'replace')) {
    return patch.filter((item) => !(isPlainObject(item) && item['$patch'] === 'replace')).map(stripDirectives)
  }
  const mergeKey = mergeKeyFor(kind, path)
  if (mergeKey !== undefined) {
    const out = [...original]
    for (const item of patch) {
      if (!isPlainObject(item)) throw badRequest(`${path.join('.')}: list items must be objects with key ${mergeKey}`)
      const index = out.findIndex((o) => isPlainObject(o) && o[mergeKey] === item[mergeKey])
      if (item['$patch'] === 'delete') {
        if (index >= 0) out.splice(index, 1)
        continue
      }
      if (index < 0) out.push(stripDirectives(item))
      else out[index] = mergeMap(kind, path, out[index] as JsonMap, item) ?? {}
    }
    return out
  }
  if (PRIMITIVE_MERGE.has(`${kind}:${path.join('.')}`) || PRIMITIVE_MERGE.has(`*:${path.join('.')}`)) {
    return [...original, ...patch.filter((v) => !original.includes(v))]
  }
  return patch.map(stripDirectives)
}

function mergeKeyFor(kind: string, path: string[]): string | undefined {
  const joined = path.join('.')
  return MERGE_KEYS[`${kind}:${joined}`] ?? MERGE_KEYS[`*:${joined}`]
}

/** Orders `list` as `order` says; items it does not name keep their relative order at the end. */
function reorder(list: Json[], order: Json[], mergeKey: string | undefined): Json[] {
  const keyOf = (item: Json): Json => (mergeKey !== undefined && isPlainObject(item) ? item[mergeKey] : item)
  const wanted = order.map((o) => (mergeKey !== undefined && isPlainObject(o) ? o[mergeKey] : o))
  const rank = (item: Json): number => {
    const i = wanted.indexOf(keyOf(item))
    return i < 0 ? wanted.length : i
  }
  return [...list].sort((a, b) => rank(a) - rank(b))
}

function stripDirectives(value: Json): Json {
  if (Array.isArray(value)) return value.map(stripDirectives)
  if (!isPlainObject(value)) return value
  const out: JsonMap = {}
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith('$')) continue
    out[k] = stripDirectives(v)
  }
  return out
}
