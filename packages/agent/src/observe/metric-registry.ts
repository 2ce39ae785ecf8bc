/**
 * A minimal Prometheus registry and text exposition (format 0.0.4): counters, gauges and histograms with
 * label names fixed at registration. No dependency: the format is small and we want bounded labels enforced
 * where metrics are declared, not trusted at each call site.
 */
import { PodlinkError } from '@podlink/core'

type Labels = Readonly<Record<string, string>>

interface Family {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge' | 'histogram'
  readonly labelNames: readonly string[]
  render(): string[]
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Number.POSITIVE_INFINITY) return '+Inf'
  if (v === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(v)
}

function labelText(names: readonly string[], values: readonly string[], extra = ''): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i]!)}"`)
  if (extra) parts.push(extra)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

function keyOf(f: { name: string; labelNames: readonly string[] }, labels: Labels): string[] {
  const given = Object.keys(labels)
  if (given.length !== f.labelNames.length || f.labelNames.some((n) => labels[n] === undefined))
    throw new PodlinkError(
      'ERR_METRIC_LABELS',
      `Cannot record ${f.name} as its labels must be exactly {${f.labelNames.join(',')}}: current value is {${given.join(',')}}`,
    )
  return f.labelNames.map((n) => labels[n]!)
}

export interface Counter {
  inc(labels?: Labels, by?: number): void
  /** For totals kept elsewhere (the status's byte counters): exposes `total` as is; a drop reads as a reset. */
  set(labels: Labels, total: number): void
}

export interface Gauge {
  set(labels: Labels, value: number): void
  /** Forgets every series: gauges rebuilt from a status each scrape drop peers that left. */
  clear(): void
}

export interface Histogram {
  observe(labels: Labels, value: number): void
}

export interface MetricRegistry {
  counter(name: string, help: string, labelNames?: readonly string[]): Counter
  gauge(name: string, help: string, labelNames?: readonly string[]): Gauge
  histogram(name: string, help: string, buckets: readonly number[], labelNames?: readonly string[]): Histogram
  /** The exposition text, families in registration order, series sorted by label values. */
  render(): string
}

export function createMetricRegistry(): MetricRegistry {
  const families: Family[] = []
  const register = (name: string, labelNames: readonly string[]): void => {
    if (!NAME.test(name) || families.some((f) => f.name === name))
      throw new PodlinkError('ERR_METRIC_NAME', `Cannot register metric ${name} as it is invalid or already registered`)
    for (const l of labelNames)
      if (!LABEL.test(l) || l === 'le')
        throw new PodlinkError('ERR_METRIC_LABELS', `Cannot register ${name} as label ${l} is invalid`)
  }
  const simple = (type: 'counter' | 'gauge', name: string, help: string, labelNames: readonly string[]) => {
    register(name, labelNames)
    const series = new Map<string, { values: string[]; v: number }>()
    const fam = { name, labelNames }
    families.push({
      name,
      help,
      type,
      labelNames,
      render: () =>
        [...series.values()]
          .sort((a, b) => a.values.join('\0').localeCompare(b.values.join('\0')))
          .map((s) => `${name}${labelText(labelNames, s.values)} ${formatValue(s.v)}`),
    })
    const put = (labels: Labels, f: (old: number) => number): void => {
      const values = keyOf(fam, labels)
      const k = values.join('\0')
      const cur = series.get(k)
      series.set(k, { values, v: f(cur?.v ?? 0) })
    }
    return { series, put, fam }
  }
  return {
    counter(name, help, labelNames = []) {
      const { put } = simple('counter', name, help, labelNames)
      return {
        inc: (labels = {}, by = 1) => {
          if (!(by >= 0))
            throw new PodlinkError('ERR_METRIC_VALUE', `Cannot increase ${name} by ${by} as counters only go up`)
          put(labels, (v) => v + by)
        },
        set: (labels, total) => put(labels, () => total),
      }
    },
    gauge(name, help, labelNames = []) {
      const { put, series } = simple('gauge', name, help, labelNames)
      return { set: (labels, value) => put(labels, () => value), clear: () => series.clear() }
    },
    histogram(name, help, buckets, labelNames = []) {
      register(name, labelNames)
      const bounds = [...buckets].sort((a, b) => a - b)
      const series = new Map<string, { values: string[]; counts: number[]; sum: number; count: number }>()
      const fam = { name, labelNames }
      families.push({
        name,
        help,
        type: 'histogram',
        labelNames,
        render: () =>
          [...series.values()].flatMap((s) => [
            ...bounds.map(
              (b, i) => `${name}_bucket${labelText(labelNames, s.values, `le="${formatValue(b)}"`)} ${s.counts[i]}`,
            ),
            `${name}_bucket${labelText(labelNames, s.values, 'le="+Inf"')} ${s.count}`,
            `${name}_sum${labelText(labelNames, s.values)} ${formatValue(s.sum)}`,
            `${name}_count${labelText(labelNames, s.values)} ${s.count}`,
          ]),
      })
      return {
        observe: (labels, value) => {
          const values = keyOf(fam, labels)
          const k = values.join('\0')
          const s = series.get(k) ?? { values, counts: bounds.map(() => 0), sum: 0, count: 0 }
          bounds.forEach((b, i) => {
            if (value <= b) s.counts[i]!++
          })
          s.sum += value
          s.count++
          series.set(k, s)
        },
      }
    },
    render() {
      const out: string[] = []
      for (const f of families) {
        out.push(
          `# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`,
          `# TYPE ${f.name} ${f.type}`,
        )
        out.push(...f.render())
      }
      return `${out.join('\n')}\n`
    },
  }
}
