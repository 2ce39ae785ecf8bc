import { badRequest } from './api-error.ts'
import type { KubeObject } from './resource-types.ts'

/** A parsed selector: true when the object matches. */
export type Selector = (obj: KubeObject) => boolean

const matchAll: Selector = () => true

/**
 * Parses a `labelSelector` in the real syntax: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`,
 * `k` (exists), `!k` (does not exist), joined by commas. A malformed selector is a 400, as upstream.
 */
export function parseLabelSelector(text: string | null): Selector {
  if (text === null || text.trim() === '') return matchAll
  const tests: Array<(labels: Record<string, string>) => boolean> = []
  for (const term of splitTerms(text)) {
    const t = term.trim()
    const setMatch = /^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(t)
    if (setMatch !== null) {
      const [, key = '', op, list = ''] = setMatch
      const values = new Set(list.split(',').map((v) => v.trim()))
      tests.push(op === 'in' ? (l) => has(l, key) && values.has(l[key]!) : (l) => !has(l, key) || !values.has(l[key]!))
      continue
    }
    const eq = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(t)
    if (eq !== null) {
      const [, key = '', op, value = ''] = eq
      tests.push(op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value)
      continue
    }
    const exists = /^(!?)([^\s!=(),]+)$/.exec(t)
    if (exists !== null) {
      const [, not, key = ''] = exists
      tests.push(not === '!' ? (l) => !has(l, key) : (l) => has(l, key))
      continue
    }
    throw badRequest(`unable to parse requirement: ${JSON.stringify(t)}`)
  }
  return (obj) => {
    const labels = obj.metadata.labels ?? {}
    return tests.every((test) => test(labels))
  }
}

/**
 * Parses a `fieldSelector` (`path=value`, `path==value`, `path!=value`, comma-joined). Any dotted
 * path is accepted (upstream allows only a few per type, among them `metadata.name`,
 * `metadata.namespace`, `spec.nodeName`, `status.phase`); a missing field compares as ''.
 */
export function parseFieldSelector(text: string | null): Selector {
  if (text === null || text.trim() === '') return matchAll
  const tests: Selector[] = []
  for (const term of text.split(',')) {
    const m = /^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(term)
    if (m === null) throw badRequest(`invalid selector: '${text}'; can't understand '${term}'`)
    const [, path = '', op, value = ''] = m
    tests.push(op === '!=' ? (o) => fieldValue(o, path) !== value : (o) => fieldValue(o, path) === value)
  }
  return (obj) => tests.every((test) => test(obj))
}

export function andSelectors(a: Selector, b: Selector): Selector {
  return (obj) => a(obj) && b(obj)
}

/** True when every key of `selector` is a label of the object with the same value (Service selectors). */
export function matchesLabelMap(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v)
}

function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return ''
    cur = (cur as Record<string, unknown>)[part]
  }
  if (cur === undefined || cur === null) return ''
  return typeof cur === 'object' ? JSON.stringify(cur) : String(cur)
}

function has(labels: Record<string, string>, key: string): boolean {
  return Object.hasOwn(labels, key)
}

/** Splits on commas that are not inside the parentheses of an `in (...)` set. */
function splitTerms(text: string): string[] {
  const terms: string[] = []
  let depth = 0
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '(') depth++
    else if (c === ')') depth--
    else if (c === ',' && depth === 0) {
      terms.push(text.slice(start, i))
      start = i + 1
    }
  }
  terms.push(text.slice(start))
  return terms
}
