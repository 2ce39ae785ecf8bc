/** The side-by-side table: every path's figures, its ratios to raw and to podlink-direct, and the targets met or missed. */

export interface PathFigures {
  throughputMBps: number
  p50Ms: number
  p99Ms: number
  connPerSec: number
  cpuPct: number
  /** Extra fields: every 1-flow run, 8 flows, time to first byte, iperf3's own CPU, the path the agents reported. */
  runsMBps: number[]
  flows8MBps: number
  ttfbP50Ms: number
  senderCpuPct: number
  receiverCpuPct: number
  cpuPerGBs: number
  via: string
  /** The p50 of each 1 KiB request/response run (runs interleaved across the paths); p50Ms is their median. */
  p50RunsMs?: number[]
  /** Direct and punched paths: how many of the 8-flow run's connections took the fast channel (e.g. "9/9"). */
  flows8Fast?: string
}

export const median = (xs: readonly number[]): number => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/**
 * podlink-direct's p50 over raw's, in ms. With runs interleaved across the paths, the median of the per-run
 * differences (a paired comparison: the machine's load at the moment falls on both alike); else the difference of
 * the medians.
 */
export function p50Delta(direct: PathFigures, raw: PathFigures): { ms: number; paired: number } {
  const a = direct.p50RunsMs ?? []
  const b = raw.p50RunsMs ?? []
  if (a.length > 0 && a.length === b.length) return { ms: median(a.map((x, i) => x - b[i]!)), paired: a.length }
  return { ms: direct.p50Ms - raw.p50Ms, paired: 0 }
}

/**
 * Throughput of `a` over `b`. With one-flow runs interleaved (run i of every path in the same round), the median of
 * the per-round ratios, as for the p50: a drift of the machine's load between rounds then moves both figures of a
 * ratio alike. Else (runs missing or uneven) the ratio of the medians.
 */
export function throughputRatio(a: PathFigures, b: PathFigures): { ratio: number; paired: number } {
  const xs = a.runsMBps ?? []
  const ys = b.runsMBps ?? []
  if (xs.length > 1 && xs.length === ys.length) {
    const rs = xs.map((x, i) => x / ys[i]!).filter(Number.isFinite)
    if (rs.length > 1) return { ratio: median(rs), paired: rs.length }
  }
  return { ratio: a.throughputMBps / b.throughputMBps, paired: 0 }
}

export interface Target {
  readonly what: string
  readonly value: string
  readonly met: boolean
}

const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '-')

export function renderTable(paths: Record<string, PathFigures>): string {
  const raw = paths['raw']?.throughputMBps ?? Number.NaN
  const direct = paths['podlink-direct']?.throughputMBps ?? Number.NaN
  const head = [
    'path',
    '1 flow MB/s',
    'x raw',
    'x direct',
    '8 flows',
    'p50 ms',
    'p99 ms',
    'conn/s',
    'TTFB ms',
    'CPU %',
    'CPU s/GB',
    'via',
  ]
  const rows = Object.entries(paths).map(([name, f]) => [
    name,
    fmt(f.throughputMBps),
    fmt(f.throughputMBps / raw, 2),
    fmt(f.throughputMBps / direct, 2),
    fmt(f.flows8MBps),
    fmt(f.p50Ms, 3),
    fmt(f.p99Ms, 2),
    String(f.connPerSec),
    fmt(f.ttfbP50Ms, 2),
    String(f.cpuPct),
    fmt(f.cpuPerGBs, 2),
    f.via,
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [line(head), ...rows.map(line)].join('\n')
}

export function targets(paths: Record<string, PathFigures>, ttfb: { extraRtts: number } | null): Target[] {
  const get = (p: string) => paths[p]
  const raw = get('raw')
  const direct = get('podlink-direct')
  const out: Target[] = []
  const ratio = (what: string, a: PathFigures | undefined, b: PathFigures | undefined, min: number): void => {
    if (a === undefined || b === undefined) return
    const { ratio: r, paired } = throughputRatio(a, b)
    const how = paired > 0 ? `, median of ${paired} paired runs` : ''
    out.push({ what, value: `${r.toFixed(2)}x (need >= ${min}${how})`, met: r >= min })
  }
  ratio('podlink-direct 1 flow vs raw', direct, raw, 0.3)
  ratio('podlink-direct 1 flow vs raw (stretch)', direct, raw, 0.5)
  ratio('podlink-direct 1 flow vs proxy', direct, get('proxy'), 0.7)
  if (direct && raw) {
    const { ms: d, paired } = p50Delta(direct, raw)
    const how = paired > 0 ? `, median of ${paired} paired runs` : ''
    out.push({
      what: 'podlink-direct p50 latency vs raw',
      value: `+${d.toFixed(3)} ms (need <= 0.2${how})`,
      met: d <= 0.2,
    })
  }
  if (ttfb !== null) {
    out.push({
      what: 'new connection: no extra round trip',
      value: `${ttfb.extraRtts.toFixed(2)} RTT extra (need < 0.5)`,
      met: ttfb.extraRtts < 0.5,
    })
  }
  ratio('podlink-punched vs direct', get('podlink-punched'), direct, 0.8)
  ratio('podlink-relay vs direct', get('podlink-relay'), direct, 0.5)
  ratio('podlink-lan vs raw-lan (flannel, no agents)', get('podlink-lan'), get('raw-lan'), 0.9)
  return out
}

export const renderTargets = (ts: readonly Target[]): string =>
  ts.map((t) => `${t.met ? 'MET   ' : 'MISSED'}  ${t.what.padEnd(46)} ${t.value}`).join('\n')
