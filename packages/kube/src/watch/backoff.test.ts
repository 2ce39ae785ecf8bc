import { describe, expect, it } from 'vitest'
import { backoffDelay } from './backoff.ts'

describe('backoffDelay', () => {
  it('doubles from initialMs up to maxMs, jitter in the upper half', () => {
    const opts = { initialMs: 100, maxMs: 1000 }
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, opts, () => 0))).toEqual([50, 100, 200, 400, 500, 500])
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, opts, () => 0.999999))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ])
  })

  it('stays finite for huge attempt counts', () => {
    expect(backoffDelay(10_000, { initialMs: 500, maxMs: 30_000 }, () => 0.5)).toBe(22_500)
  })
})
