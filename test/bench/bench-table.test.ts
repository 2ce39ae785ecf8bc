import { describe, expect, it } from 'vitest'
import { median, type PathFigures, p50Delta, targets, throughputRatio } from './bench-table.ts'

const figures = (p50RunsMs: number[] | undefined, p50Ms = median(p50RunsMs ?? [])): PathFigures => ({
  throughputMBps: 100,
  p50Ms,
  p99Ms: 1,
  connPerSec: 1,
  cpuPct: 1,
  runsMBps: [100],
  flows8MBps: 100,
  ttfbP50Ms: 1,
  senderCpuPct: 1,
  receiverCpuPct: 1,
  cpuPerGBs: 1,
  via: 'x',
  ...(p50RunsMs ? { p50RunsMs } : {}),
})

describe('bench table: p50 against raw', () => {
  it('pairs interleaved runs: a noisy moment falls on both paths of its run and cancels out', () => {
    // Run 2 was taken while the machine was busy: both paths slow. Medians alone: 0.30 - 0.10 = +0.20.
    const raw = figures([0.1, 0.5, 0.12])
    const direct = figures([0.26, 0.66, 0.3])
    expect(median([0.1, 0.5, 0.12])).toBe(0.12)
    const d = p50Delta(direct, raw)
    expect(d.paired).toBe(3)
    expect(d.ms).toBeCloseTo(0.16, 6)
    const t = targets({ raw, 'podlink-direct': direct }, null).find((x) => x.what.includes('p50'))!
    expect(t).toMatchObject({ met: true, value: '+0.160 ms (need <= 0.2, median of 3 paired runs)' })
  })

  it('falls back to the difference of the p50s when the runs do not pair', () => {
    const d = p50Delta(figures([0.4, 0.5]), figures(undefined, 0.1))
    expect(d).toEqual({ ms: 0.35, paired: 0 })
    const t = targets({ raw: figures(undefined, 0.1), 'podlink-direct': figures(undefined, 0.35) }, null)
    expect(t.find((x) => x.what.includes('p50'))).toMatchObject({ met: false, value: '+0.250 ms (need <= 0.2)' })
  })
})

describe('bench table: throughput ratios', () => {
  const runs = (runsMBps: number[]): PathFigures => ({
    ...figures(undefined, 0.1),
    runsMBps,
    throughputMBps: median(runsMBps),
  })

  it('takes the median of per-round ratios: a slow round slows both paths of it', () => {
    // Round 2 ran while the machine was busy. Medians alone: 1000 vs 1200 = 0.83x; per round 0.95, 0.95, 0.9.
    const raw = runs([1200, 600, 1300])
    const lan = runs([1140, 570, 1000])
    expect(lan.throughputMBps / raw.throughputMBps).toBeCloseTo(0.83, 2)
    const r = throughputRatio(lan, raw)
    expect(r.paired).toBe(3)
    expect(r.ratio).toBeCloseTo(0.95, 6)
    const t = targets({ 'raw-lan': raw, 'podlink-lan': lan }, null).find((x) => x.what.includes('lan'))!
    expect(t).toMatchObject({ met: true, value: '0.95x (need >= 0.9, median of 3 paired runs)' })
  })

  it('skips a failed run of either path, and falls back to the medians when runs do not pair', () => {
    expect(throughputRatio(runs([400, Number.NaN, 500]), runs([1000, 1000, 1000]))).toEqual({ ratio: 0.45, paired: 2 })
    expect(throughputRatio(runs([300]), runs([1000]))).toEqual({ ratio: 0.3, paired: 0 })
    expect(throughputRatio(runs([300, 400]), runs([1000, 1000, 1000]))).toEqual({ ratio: 0.35, paired: 0 })
    const t = targets({ raw: runs([1000]), 'podlink-direct': runs([250]) }, null)
    expect(t[0]).toMatchObject({ what: 'podlink-direct 1 flow vs raw', met: false, value: '0.25x (need >= 0.3)' })
  })
})
