/**
 * The agent's config file as the ConfigMap carries it: every option of the agent's CONFIG_SCHEMA, in
 * schema order, with its doc, type, flag, environment variable and default as comments, set to its
 * default unless a chart value feeds it (CONFIG_FROM_VALUES). Generated, so a new or renamed option
 * appears here on the next `node deploy/generate.ts`, and the committed-files test fails until then.
 */
import { CONFIG_SCHEMA, type OptionSpec } from '../../agent/src/config/config-schema.ts'
import { CONFIG_FROM_VALUES, valueAt } from './deploy-values.ts'
import type { Concat, Ref } from './template-holes.ts'

type Part = Concat['parts'][number]

function describeType(spec: OptionSpec): string {
  const t = spec.type
  switch (t.kind) {
    case 'int':
      return `whole number ${t.min}..${t.max}${t.max === 0x7fffffff ? ' (a mark bit: 0x... accepted in flags and env)' : ''}`
    case 'enum':
      return `one of ${t.values.join(', ')}`
    case 'cidrs':
      return 'list of CIDRs'
    case 'strings':
      return 'list of strings'
    case 'bool':
      return 'true or false'
    case 'string':
      return t.patternDoc ?? 'string'
  }
}

function valueText(spec: OptionSpec, v: unknown): string {
  if (spec.type.kind === 'cidrs' || spec.type.kind === 'strings') return `[${(v as string[]).join(', ')}]`
  return JSON.stringify(v)
}

/** The config text with a hole wherever a chart value feeds an option. */
export function agentConfigText(values: unknown): Concat {
  const parts: Part[] = [
    '# podlink-agent configuration, generated from packages/agent/src/config/config-schema.ts by\n',
    '# deploy/generate.ts: edit the generator or the chart values, not this text.\n',
    '# Precedence: defaults < this file < environment (PODLINK_*) < flags. Check a copy with\n',
    '#   podlink-agent config check FILE\n',
  ]
  let section = ''
  for (const spec of CONFIG_SCHEMA) {
    const dot = spec.path.lastIndexOf('.')
    const sec = dot < 0 ? '' : spec.path.slice(0, dot)
    const key = spec.path.slice(dot + 1)
    if (sec.includes('.')) throw new Error(`Cannot print ${spec.path}: options nest one level at most`)
    const pad = sec ? '  ' : ''
    parts.push('\n')
    if (sec !== section && sec) parts.push(`${sec}:\n`)
    section = sec
    parts.push(`${pad}# ${spec.doc}\n`)
    parts.push(
      `${pad}# ${describeType(spec)}; flag ${spec.flag}, env ${spec.env}; default ${JSON.stringify(spec.default)}\n`,
    )
    const from = CONFIG_FROM_VALUES[spec.path]
    if (from !== undefined) {
      const value = valueAt(values, from) as Ref['value']
      const ref: Ref = { hole: 'ref', expr: `.Values.${from}`, value }
      if (spec.type.kind === 'cidrs' || spec.type.kind === 'strings')
        parts.push(`${pad}${key}: [`, { ref, quote: false }, ']\n')
      else parts.push(`${pad}${key}: `, { ref, quote: typeof value === 'string' }, '\n')
    } else if (spec.default === null) {
      const how = spec.path === 'nodeName' ? 'set by the DaemonSet through NODE_NAME (spec.nodeName)' : 'unset'
      parts.push(`${pad}# ${key}:   (${how})\n`)
    } else parts.push(`${pad}${key}: ${valueText(spec, spec.default)}\n`)
  }
  return { hole: 'concat', parts }
}
