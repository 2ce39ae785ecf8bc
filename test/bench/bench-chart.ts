/**
 * results/bench-latest.svg: two bar charts side by side, one-flow throughput (MB/s) and 1 KiB request/response p50
 * latency (ms) for every path of one run, drawn as plain SVG (no library), podlink's paths in one colour.
 */
import type { PathFigures } from './bench-table.ts'

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function panel(
  rows: ReadonlyArray<{ name: string; value: number }>,
  x0: number,
  title: string,
  unit: string,
  digits: number,
): string[] {
  const labelW = 120
  const barW = 260
  const rowH = 26
  const max = Math.max(...rows.map((r) => (Number.isFinite(r.value) ? r.value : 0)), 1e-9)
  const out = [`<text x="${x0}" y="28" class="t">${esc(title)}</text>`]
  rows.forEach((r, i) => {
    const y = 44 + i * rowH
    const v = Number.isFinite(r.value) ? r.value : 0
    const w = Math.max(1, (v / max) * barW)
    const cls = r.name.startsWith('podlink') ? 'p' : 'o'
    out.push(
      `<text x="${x0 + labelW - 8}" y="${y + 15}" class="l" text-anchor="end">${esc(r.name)}</text>`,
      `<rect x="${x0 + labelW}" y="${y + 2}" width="${w.toFixed(1)}" height="${rowH - 8}" class="${cls}"/>`,
      `<text x="${x0 + labelW + w + 6}" y="${y + 15}" class="v">${Number.isFinite(r.value) ? r.value.toFixed(digits) : '-'} ${unit}</text>`,
    )
  })
  return out
}

export function renderChart(paths: Record<string, PathFigures>, caption = ''): string {
  const names = Object.keys(paths)
  const height = 60 + names.length * 26 + (caption ? 20 : 0)
  const thr = names.map((name) => ({ name, value: paths[name]!.throughputMBps }))
  const lat = names.map((name) => ({ name, value: paths[name]!.p50Ms }))
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="${height}" viewBox="0 0 900 ${height}" font-family="sans-serif">`,
    '<title>podlink benchmark: one-flow throughput and 1 KiB request/response p50 latency by path</title>',
    '<style>.t{font-size:14px;font-weight:bold}.l{font-size:12px}.v{font-size:11px;fill:#333}.p{fill:#2b6cb0}.o{fill:#a0aec0}</style>',
    `<rect width="900" height="${height}" fill="white"/>`,
    ...panel(thr, 10, 'one-flow throughput (MB/s, higher is better)', 'MB/s', 0),
    ...panel(lat, 460, '1 KiB request/response p50 (ms, lower is better)', 'ms', 3),
    caption ? `<text x="10" y="${height - 8}" class="v">${esc(caption)}</text>` : '',
    '</svg>',
    '',
  ].join('\n')
}

// `node test/bench/bench-chart.ts [results/bench-latest.json]` redraws the chart from a run's JSON, next to it.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { readFileSync, writeFileSync } = await import('node:fs')
  const file = process.argv[2] ?? 'results/bench-latest.json'
  const run = JSON.parse(readFileSync(file, 'utf8')) as {
    paths: Record<string, PathFigures>
    quick: boolean
    startedAt: string
    loadAverage: { start: number[] }
  }
  const caption = `pnpm bench${run.quick ? ' --quick' : ''}, ${run.startedAt.slice(0, 16)}Z, one lab, load average ${run.loadAverage.start[0]?.toFixed(1)} on 2 shared vCPUs: compare ratios, not absolute figures`
  writeFileSync(file.replace(/\.json$/, '.svg'), renderChart(run.paths, caption))
}
