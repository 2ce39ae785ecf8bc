/**
 * A renderer for the small subset of Helm's Go templates that the chart's templates use, since helm
 * itself is not installable here (no Debian package, no registry). It refuses any other action, so a
 * template that grows beyond the subset fails the tests instead of being half-understood.
 *
 * Supported, with Helm's semantics: `{{ X }}`, `{{ X | quote }}`, `{{ toYaml X | nindent N }}`,
 * `{{ if X }}` ... `{{ end }}` (Go truthiness), `{{-`/`-}}` whitespace trimming, where X is
 * `.Values.a.b` or `.Release.Namespace`. Values are values.yaml deep-merged with the user's values
 * (maps merge, everything else is replaced), as `helm install -f` does. toYaml output is equal as
 * data to Helm's (sigs.k8s.io/yaml), not byte for byte: the tests compare parsed objects.
 */
import { parseAllDocuments, stringify } from 'yaml'
import { truthy } from './template-holes.ts'

export interface RenderContext {
  readonly values: unknown
  readonly releaseNamespace: string
}

type Node = { readonly text: string } | { readonly action: string }

function lex(template: string): Node[] {
  const nodes: Node[] = []
  const re = /\{\{(-?)(.*?)(-?)\}\}/gs
  let last = 0
  let trimNext = false
  for (let m = re.exec(template); m; m = re.exec(template)) {
    let text = template.slice(last, m.index)
    if (trimNext) text = text.replace(/^\s+/, '')
    if (m[1] === '-') text = text.replace(/\s+$/, '')
    if (m[1] === '-' && !/^-\s/.test(`-${m[2]}`)) throw new Error(`Cannot parse ${m[0]}: "{{-" needs a space after it`)
    nodes.push({ text }, { action: m[2]!.trim() })
    trimNext = m[3] === '-'
    last = m.index + m[0].length
  }
  let tail = template.slice(last)
  if (trimNext) tail = tail.replace(/^\s+/, '')
  nodes.push({ text: tail })
  return nodes
}

function lookup(expr: string, ctx: RenderContext): unknown {
  if (expr === '.Release.Namespace') return ctx.releaseNamespace
  if (!expr.startsWith('.Values.')) throw new Error(`Cannot evaluate ${expr}: outside the supported subset`)
  let o: unknown = ctx.values
  for (const k of expr.slice('.Values.'.length).split('.')) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`Cannot evaluate ${expr}: not a plain field path`)
    if (typeof o !== 'object' || o === null || !(k in o)) throw new Error(`Cannot evaluate ${expr}: no such value`)
    o = (o as Record<string, unknown>)[k]
  }
  return o
}

/** Go's %v for the types YAML values decode to. */
function print(v: unknown): string {
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  throw new Error(`Cannot print ${JSON.stringify(v)} inline: use toYaml`)
}

function evaluate(pipeline: string, ctx: RenderContext): string {
  const stages = pipeline.split('|').map((s) => s.trim())
  const [head, ...rest] = stages
  let value: unknown
  let yamlText = false
  const toYaml = /^toYaml (\S+)$/.exec(head!)
  if (toYaml) {
    const v = lookup(toYaml[1]!, ctx)
    value = stringify(v, { aliasDuplicateObjects: false }).replace(/\n$/, '')
    yamlText = true
  } else if (/^\.\S+$/.test(head!)) value = lookup(head!, ctx)
  else throw new Error(`Cannot evaluate {{ ${pipeline} }}: outside the supported subset`)
  for (const stage of rest) {
    const nindent = /^nindent (\d+)$/.exec(stage)
    if (stage === 'quote') value = JSON.stringify(print(value))
    else if (nindent && yamlText) {
      const pad = ' '.repeat(Number(nindent[1]))
      value = `\n${pad}${(value as string).replaceAll('\n', `\n${pad}`)}`
    } else throw new Error(`Cannot apply | ${stage}: outside the supported subset`)
  }
  return print(value)
}

/** Renders one template file to text. */
export function renderTemplate(template: string, ctx: RenderContext): string {
  const out: string[] = []
  // Each open `if`: whether its body is being emitted.
  const stack: boolean[] = []
  const emitting = () => stack.every(Boolean)
  for (const node of lex(template)) {
    if ('text' in node) {
      if (emitting()) out.push(node.text)
      continue
    }
    const a = node.action
    const cond = /^if (\.\S+)$/.exec(a)
    if (cond) stack.push(truthy(lookup(cond[1]!, ctx)))
    else if (a === 'end') {
      if (stack.pop() === undefined) throw new Error('Cannot close {{ end }}: no open if')
    } else if (emitting()) out.push(evaluate(a, ctx))
    else evaluate(a, ctx)
  }
  if (stack.length > 0) throw new Error('Cannot render: an {{ if }} is not closed')
  return out.join('')
}

/** Renders every template and parses the YAML documents, skipping empty ones as Helm does. */
export function renderChart(templates: ReadonlyMap<string, string>, ctx: RenderContext): unknown[] {
  const objects: unknown[] = []
  for (const [name, text] of templates) {
    for (const doc of parseAllDocuments(renderTemplate(text, ctx))) {
      if (doc.errors.length > 0) throw new Error(`Cannot parse the rendered ${name}: ${doc.errors[0]!.message}`)
      const o = doc.toJS()
      if (o !== null && o !== undefined) objects.push(o)
    }
  }
  return objects
}

/** values.yaml deep-merged with user values, as Helm merges them. */
export function mergeValues(defaults: unknown, user: unknown): unknown {
  if (!isMap(defaults) || !isMap(user)) return user === undefined ? defaults : user
  const out: Record<string, unknown> = { ...defaults }
  for (const [k, v] of Object.entries(user)) out[k] = k in defaults ? mergeValues(defaults[k], v) : v
  return out
}

function isMap(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}
