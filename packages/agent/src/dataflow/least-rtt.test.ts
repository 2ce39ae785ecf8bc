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
    expect(r.least('p')).toBeNull()
    r.add('p', 0.4)
    expect(r.least('p')).toBe(0.4)
    // Pings every 10 s behind bulk flows, for over a window: the 0.4 stays in range until its window is past.
    for (let i = 0; i < 10; i++) {
      c.advance(10_000)
      r.add('p', 40 + i)
      expect(r.least('p')).toBe(0.4)
    }
    // 0.4 is in the window that ended at +60 s, the previous one since: still counted at +115 s, gone at +125 s
    // (the window of +60..+120 s held 45-49, and 30 comes in now).
    c.advance(15_000)
    expect(r.least('p')).toBe(0.4)
    c.advance(10_000)
    r.add('p', 30)
    expect(r.least('p')).toBe(30)
  })

  it('answers from what is in range, and nothing once every window is past', () => {
    const c = clock()
    const r = createLeastRtt(60_000, c.now)
    r.add('p', 2)
    c.advance(59_000)
    expect(r.least('p')).toBe(2)
    c.advance(2_000)
    expect(r.least('p')).toBe(2) // in the previous window now
    c.advance(130_000)
    expect(r.least('p')).toBeNull()
  })

  it('ignores garbage samples and forgets peers no longer known', () => {
    const r = createLeastRtt(60_000, clock().now)
    r.add('p', Number.NaN)
    r.add('p', -1)
    expect(r.least('p')).toBeNull()
    r.add('p', 3)
    r.add('q', 5)
    r.retain(new Set(['q']))
    expect(r.least('p')).toBeNull()
    expect(r.least('q')).toBe(5)
  })
})
