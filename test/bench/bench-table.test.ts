import { describe, expect, it } from 'vitest'
import { median, type PathFigures, p50Delta, targets } from './bench-table.ts'

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
