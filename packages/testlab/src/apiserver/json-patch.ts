import { ApiError, badRequest } from './api-error.ts'
import { canonicalJson, isPlainObject } from './canonical-json.ts'

/** RFC 7386 JSON merge patch: maps merge, `null` deletes, everything else (lists too) replaces. */
export function applyMergePatch(original: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch
  const out: Record<string, unknown> = isPlainObject(original) ? { ...original } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key]
    else out[key] = applyMergePatch(out[key], value)
  }
  return out
}

interface Operation {
  op: string
  path: string
  from?: string
  value?: unknown
}

/** RFC 6902 JSON patch (add, remove, replace, move, copy, test), applied to a copy. */
export function applyJsonPatch(original: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw badRequest('json patch must be a JSON array of operations')
  let doc = structuredClone(original)
  for (const raw of operations) {
    if (!isPlainObject(raw) || typeof raw['op'] !== 'string' || typeof raw['path'] !== 'string') {
      throw badRequest(`invalid json patch operation: ${JSON.stringify(raw)}`)
    }
    const op = raw as unknown as Operation
    switch (op.op) {
      case 'add':
        doc = put(doc, op.path, structuredClone(op.value), 'add')
        break
      case 'replace':
        get(doc, op.path)
        doc = put(doc, op.path, structuredClone(op.value), 'replace')
        break
      case 'remove':
        doc = remove(doc, op.path)
        break
      case 'move': {
        const value = get(doc, op.from ?? '')
        doc = put(remove(doc, op.from ?? ''), op.path, value, 'add')
        break
      }
      case 'copy':
        doc = put(doc, op.path, structuredClone(get(doc, op.from ?? '')), 'add')
        break
      case 'test':
        if (canonicalJson(get(doc, op.path)) !== canonicalJson(op.value)) {
          throw new ApiError(
            422,
            'Invalid',
            `the server rejected our request due to an error in our request: test failed at ${op.path}`,
          )
        }
        break
      default:
        throw badRequest(`Unexpected kind: ${op.op}`)
    }
  }
  return doc
}

function tokens(pointer: string): string[] {
  if (pointer === '') return []
  if (!pointer.startsWith('/')) throw badRequest(`invalid JSON pointer: ${pointer}`)
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'))
}

function missing(pointer: string): ApiError {
  return new ApiError(
    422,
    'Invalid',
    `the server rejected our request due to an error in our request: doc is missing path: "${pointer}"`,
  )
}

function get(doc: unknown, pointer: string): unknown {
  let cur = doc
  for (const t of tokens(pointer)) {
    if (Array.isArray(cur)) cur = cur[Number(t)]
    else if (isPlainObject(cur) && Object.hasOwn(cur, t)) cur = cur[t]
    else throw missing(pointer)
    if (cur === undefined) throw missing(pointer)
  }
  return cur
}

function parentOf(doc: unknown, pointer: string): { parent: unknown; last: string } {
  const ts = tokens(pointer)
  const last = ts.pop()
  if (last === undefined) return { parent: undefined, last: '' }
  const parentPointer = ts.map((t) => '/' + t.replaceAll('~', '~0').replaceAll('/', '~1')).join('')
  return { parent: get(doc, parentPointer), last }
}

function put(doc: unknown, pointer: string, value: unknown, mode: 'add' | 'replace'): unknown {
  if (pointer === '') return value
  const { parent, last } = parentOf(doc, pointer)
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last)
    if (!Number.isInteger(index) || index < 0 || index > parent.length) throw missing(pointer)
    if (mode === 'add') parent.splice(index, 0, value)
    else parent[index] = value
  } else if (isPlainObject(parent)) {
    parent[last] = value
  } else {
    throw missing(pointer)
  }
  return doc
}

function remove(doc: unknown, pointer: string): unknown {
  const { parent, last } = parentOf(doc, pointer)
  get(doc, pointer)
  if (Array.isArray(parent)) parent.splice(Number(last), 1)
  else if (isPlainObject(parent)) delete parent[last]
  return doc
}
