import { describe, expect, it } from 'vitest'
import { TokenBucket } from './token-bucket.ts'

describe('TokenBucket', () => {
  it('allows a burst, then one per refill interval, never above the burst', () => {
    const bucket = new TokenBucket(3, 1000, 0)
    expect([0, 0, 0, 0].map((t) => bucket.take(t))).toEqual([true, true, true, false])
    expect(bucket.take(999)).toBe(false)
    expect(bucket.take(1000)).toBe(true)
    expect(bucket.take(1500)).toBe(false)
    expect(bucket.take(2000)).toBe(true)
    // A long quiet period refills to the burst only.
    expect([100_000, 100_000, 100_000, 100_000].map((t) => bucket.take(t))).toEqual([true, true, true, false])
  })
})
