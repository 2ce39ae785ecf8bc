import { describe, expect, it } from 'vitest'
import { createLeastRtt } from './least-rtt.ts'

describe('createLeastRtt', () => {
  const clock = () => {
    let t = 1_000_000
    return { now: () => t, advance: (ms: number) => (t += ms) }
  }

  it('keeps the least sample of the last window against any number of higher ones', () => {
    const c = clock()
    const r = createLeastRtt(60_000, c.now)
    expect(r.note('p')).toBeNull()
    expect(r.note('p', 0.4)).toBe(0.4)
    // Pings every 10 s behind bulk flows, for over a window: the 0.4 stays in range until its window is past.
    for (let i = 0; i < 10; i++) {
      c.advance(10_000)
      expect(r.note('p', 40 + i)).toBe(0.4)
    }
    // 0.4 is in the window that ended at +60 s, the previous one since: still counted at +115 s, gone at +125 s
    // (the window of +60..+120 s held 45-49, and 30 comes in now).
    c.advance(15_000)
    expect(r.note('p')).toBe(0.4)
    c.advance(10_000)
    expect(r.note('p', 30)).toBe(30)
  })

  it('answers without a sample from what is in range, and nothing once every window is past', () => {
    const c = clock()
    const r = createLeastRtt(60_000, c.now)
    r.note('p', 2)
    c.advance(59_000)
    expect(r.note('p')).toBe(2)
    c.advance(2_000)
    expect(r.note('p')).toBe(2) // in the previous window now
    c.advance(130_000)
    expect(r.note('p')).toBeNull()
  })

  it('ignores garbage samples and forgets peers no longer known', () => {
    const r = createLeastRtt(60_000, clock().now)
    expect(r.note('p', Number.NaN)).toBeNull()
    expect(r.note('p', -1)).toBeNull()
    r.note('p', 3)
    r.note('q', 5)
    r.retain(new Set(['q']))
    expect(r.note('p')).toBeNull()
    expect(r.note('q')).toBe(5)
  })
})
