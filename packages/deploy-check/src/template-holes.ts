/**
 * Holes in a Kubernetes object tree: the places where the Helm chart substitutes a value. One tree,
 * built once from a values object, yields both the plain manifest (`toPlain`: every hole replaced by
 * the value it was built with) and the chart template (`toTemplate`: every hole replaced by the Go
 * template action that reads the same value). So the chart is a thin values-substitution layer over
 * the manifests and cannot drift from them: only the substitution itself needs testing.
 */
import { stringify } from 'yaml'

/** A scalar read from the values (`expr` like `.Values.logLevel` or `.Release.Namespace`). */
export interface Ref {
  readonly hole: 'ref'
  readonly expr: string
  readonly value: string | number | boolean
  /** Always a string in the object (an env value, an annotation), whatever the value's type. */
  readonly str?: boolean
}
/** A structure (list or map) read from the values and emitted with `toYaml`. */
export interface Block {
  readonly hole: 'block'
  readonly expr: string
  readonly value: unknown
}
/** A string made of literal text and values; `quote` parts are emitted as quoted strings. */
export interface Concat {
  readonly hole: 'concat'
  /** In the template, print as one double-quoted scalar (values must hold no `"` or `\\`). */
  readonly quoted?: boolean
  readonly parts: readonly (string | { readonly ref: Ref; readonly quote: boolean })[]
}
/** A map entry, list item or whole document present only when `expr` is truthy. */
export interface When {
  readonly hole: 'when'
  readonly expr: string
  readonly on: boolean
  readonly body: unknown
}
export type Hole = Ref | Block | Concat | When

export function isHole(x: unknown): x is Hole {
  return typeof x === 'object' && x !== null && 'hole' in x && typeof (x as { hole: unknown }).hole === 'string'
}

/** Go template truthiness, as `if` applies it: false, 0, "", nil and empty lists and maps are false. */
export function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false
  if (Array.isArray(v)) return v.length > 0
  if (typeof v === 'object') return Object.keys(v).length > 0
  return true
}

const OMIT = Symbol('omit')
/** Stands for `"` around a quoted concatenation until the YAML is printed. */
const QUOTE = 'zzqzz'

/** The object the tree stands for with the values it was built from; `undefined` for an absent document. */
export function toPlain(tree: unknown): unknown {
  const r = plain(tree)
  return r === OMIT ? undefined : r
}

function plain(x: unknown): unknown {
  if (isHole(x)) {
    switch (x.hole) {
      case 'ref':
        return x.str ? String(x.value) : x.value
      case 'block':
        return structuredClone(x.value)
      case 'concat':
        return x.parts
          .map((p) => (typeof p === 'string' ? p : p.quote ? JSON.stringify(String(p.ref.value)) : String(p.ref.value)))
          .join('')
      case 'when':
        return x.on ? plain(x.body) : OMIT
    }
  }
  if (Array.isArray(x)) return x.map(plain).filter((v) => v !== OMIT)
  if (typeof x === 'object' && x !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(x)) {
      const p = plain(v)
      if (p !== OMIT) out[k] = p
    }
    return out
  }
  return x
}

/**
 * The tree as chart template text. Holes become `zzhNzz` tokens (plain YAML scalars that the emitter
 * never quotes), the tree is printed by the `yaml` package, then each token is replaced by its action.
 * Only these actions are emitted, and `renderChart` implements exactly them: `{{ X }}`,
 * `{{ X | quote }}`, `{{- toYaml X | nindent N }}`, `{{- if X }}`...`{{- end }}`.
 */
export function toTemplate(tree: unknown): string {
  const inline = new Map<string, string>()
  const whole = new Map<string, string>()
  const blocks = new Map<string, string>()
  const whens = new Map<string, string>()
  let n = 0
  const token = (kind: string) => `zz${kind}${n++}zz`
  const action = (r: Ref, quote: boolean) => `{{ ${r.expr}${quote ? ' | quote' : ''} }}`

  const walk = (x: unknown): unknown => {
    if (isHole(x)) {
      switch (x.hole) {
        case 'ref': {
          const t = token('h')
          inline.set(t, action(x, false))
          whole.set(t, action(x, typeof x.value === 'string' || x.str === true))
          return t
        }
        case 'concat':
          // Each value gets its own token inside the literal text, so a multi-line string still prints
          // as a literal block with the actions inside it.
          return `${x.quoted ? QUOTE : ''}${x.parts
            .map((p) => {
              if (typeof p === 'string') return p
              const t = token('h')
              inline.set(t, action(p.ref, p.quote))
              return t
            })
            .join('')}${x.quoted ? QUOTE : ''}`
        case 'block': {
          const t = token('b')
          blocks.set(t, x.expr)
          return t
        }
        case 'when':
          throw new Error(`Cannot place a conditional (${x.expr}) other than as a map entry or a document`)
      }
    }
    if (Array.isArray(x)) return x.map(walk)
    if (typeof x === 'object' && x !== null) {
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(x)) {
        if (isHole(v) && v.hole === 'when') {
          const t = token('w')
          whens.set(t, v.expr)
          out[t + k] = walk(v.body)
        } else out[k] = walk(v)
      }
      return out
    }
    return x
  }

  let docWhen: string | null = null
  let root = tree
  if (isHole(tree) && tree.hole === 'when') {
    docWhen = tree.expr
    root = tree.body
  }
  const text = stringify(walk(root), { lineWidth: 0, blockQuote: 'literal', aliasDuplicateObjects: false })
  const out: string[] = []
  const lines = text.replace(/\n$/, '').split('\n')
  const ends: { indent: number }[] = []
  const indentOf = (l: string) => l.length - l.trimStart().length
  for (const line of lines) {
    // Close conditionals whose block ended: the first line indented no deeper than its key.
    while (ends.length > 0 && line.trim() !== '' && indentOf(line) <= ends[ends.length - 1]!.indent) {
      ends.pop()
      out.push('{{- end }}')
    }
    let l = line
    const w = /^(\s*)(zzw\d+zz)/.exec(l)
    if (w) {
      out.push(`{{- if ${whens.get(w[2]!)} }}`)
      l = w[1]! + l.slice(w[0].length)
      ends.push({ indent: w[1]!.length })
    }
    if (/^\s*- zzw\d+zz/.test(l)) throw new Error('Cannot make the first key of a list item conditional')
    const b = /^(\s*)([^\s].*): (zzb\d+zz)$/.exec(l)
    if (b) {
      out.push(`${b[1]}${b[2]}:`)
      out.push(`{{- toYaml ${blocks.get(b[3]!)} | nindent ${b[1]!.length + 2} }}`)
      continue
    }
    if (/zzb\d+zz/.test(l)) throw new Error(`Cannot place a toYaml block other than as a map value: ${l}`)
    l = l.replace(/((?::|-) )(zzh\d+zz)$/, (_, pre: string, t: string) => pre + (whole.get(t) ?? inline.get(t)))
    l = l.replace(/zzh\d+zz/g, (t) => inline.get(t) ?? t).replaceAll(QUOTE, '"')
    out.push(l)
  }
  while (ends.pop()) out.push('{{- end }}')
  const body = `${out.join('\n')}\n`
  return docWhen ? `{{- if ${docWhen} }}\n${body}{{- end }}\n` : body
}
