/**
 * Readers for untrusted JSON from the API: each returns a well-typed value or a neutral default,
 * never throws. Kubernetes objects are written by many hands (and by hand); one bad field must
 * cost that field, not the informer.
 */

export type JsonRecord = Readonly<Record<string, unknown>>

export function asRecord(value: unknown): JsonRecord | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonRecord) : undefined
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

export function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : []
}

/** Keeps only string values: labels and annotations are `map[string]string` upstream. */
export function asStringMap(value: unknown): Readonly<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const [key, v] of Object.entries(asRecord(value) ?? {})) {
    if (typeof v === 'string') out[key] = v
  }
  return out
}

/** An integer in [min, max], or undefined. */
export function asInteger(value: unknown, min: number, max: number): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? value : undefined
}

/** `metadata.name` and `metadata.namespace` of an object, when it has a non-empty name. */
export function objectName(obj: unknown): { name: string; namespace: string | undefined } | undefined {
  const meta = asRecord(asRecord(obj)?.['metadata'])
  const name = asString(meta?.['name'])
  if (name === undefined || name === '') return undefined
  const namespace = asString(meta?.['namespace'])
  return { name, namespace: namespace === '' ? undefined : namespace }
}

/** `namespace/name` for namespaced objects, `name` for cluster-scoped ones. */
export function objectKey(obj: unknown): string | undefined {
  const id = objectName(obj)
  if (id === undefined) return undefined
  return id.namespace === undefined ? id.name : `${id.namespace}/${id.name}`
}
