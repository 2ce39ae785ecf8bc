/**
 * A strict parser for the Prometheus text format 0.0.4, for tests: it rejects what a lenient scraper would
 * let through (samples before their TYPE, unknown families, bad label syntax, duplicate series, histogram
 * buckets that decrease or disagree with _count).
 */
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface MetricFamily {
  readonly name: string
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'
  readonly help: string
  readonly samples: Sample[]
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`)
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"(,|$)/

function parseValue(v: string, line: number): number {
  if (v === '+Inf') return Number.POSITIVE_INFINITY
  if (v === '-Inf') return Number.NEGATIVE_INFINITY
  if (v === 'NaN') return Number.NaN
  if (!/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(v)) throw new Error(`line ${line}: bad value ${v}`)
  return Number(v)
}

function parseLabels(text: string, line: number): Record<string, string> {
  const out: Record<string, string> = {}
  let rest = text
  while (rest.length > 0) {
    const m = LABEL.exec(rest)
    if (!m) throw new Error(`line ${line}: bad labels {${text}}`)
    if (out[m[1]!] !== undefined) throw new Error(`line ${line}: duplicate label ${m[1]}`)
    out[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\')
    rest = rest.slice(m[0].length)
  }
  return out
}

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline')
  const families = new Map<string, MetricFamily>()
  const helps = new Map<string, string>()
  const seen = new Set<string>()
  text
    .slice(0, -1)
    .split('\n')
    .forEach((l, i) => {
      const n = i + 1
      if (l.startsWith('# HELP ')) {
        const [, name = '', ...help] = l.split(' ').slice(1)
        helps.set(name, help.join(' '))
        return
      }
      if (l.startsWith('# TYPE ')) {
        const [name = '', type = ''] = l.slice(7).split(' ')
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type))
          throw new Error(`line ${n}: bad type ${type}`)
        if (families.has(name)) throw new Error(`line ${n}: second TYPE for ${name}`)
        families.set(name, { name, type: type as MetricFamily['type'], help: helps.get(name) ?? '', samples: [] })
        return
      }
      if (l.startsWith('#') || l === '') return
      const m = SAMPLE.exec(l)
      if (!m) throw new Error(`line ${n}: not a sample: ${l}`)
      const name = m[1]!
      const fam =
        families.get(name) ??
        [...families.values()].find(
          (f) => f.type === 'histogram' && ['_bucket', '_sum', '_count'].some((s) => name === `${f.name}${s}`),
        )
      if (!fam) throw new Error(`line ${n}: sample ${name} before its TYPE`)
      const labels = parseLabels(m[2] ?? '', n)
      const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`
      if (seen.has(key)) throw new Error(`line ${n}: duplicate series ${key}`)
      seen.add(key)
      if (fam.type === 'counter' && !(parseValue(m[3]!, n) >= 0)) throw new Error(`line ${n}: negative counter`)
      fam.samples.push({ name, labels, value: parseValue(m[3]!, n) })
    })
  for (const f of families.values()) {
    if (f.type !== 'histogram') continue
    const buckets = f.samples.filter((s) => s.name.endsWith('_bucket'))
    const byLe = buckets.map(
      (b) => [Number(b.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : b.labels.le), b.value] as const,
    )
    for (let i = 1; i < byLe.length; i++)
      if (byLe[i]![0] > byLe[i - 1]![0] && byLe[i]![1] < byLe[i - 1]![1])
        throw new Error(`${f.name}: bucket counts decrease`)
    const inf = buckets.find((b) => b.labels.le === '+Inf')?.value
    const count = f.samples.find((s) => s.name === `${f.name}_count`)?.value
    if (inf !== count) throw new Error(`${f.name}: +Inf bucket ${inf} != _count ${count}`)
  }
  return families
}

/** The value of the one series of `name` whose labels include `labels`; throws when none or several match. */
export function sampleValue(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const all = [...families.values()].flatMap((f) => f.samples)
  const hits = all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (hits.length !== 1) throw new Error(`${hits.length} series of ${name} match ${JSON.stringify(labels)}`)
  return hits[0]!.value
}
