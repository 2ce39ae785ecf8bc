import { describe, expect, it } from 'vitest'
import { parseSsTimer } from './keepalive-timers.ts'

describe('parseSsTimer (ss -o timer values, as iproute2 6.1 prints them)', () => {
  it.each([
    ['876ms', 876],
    ['4.896ms', 4896],
    ['1.5ms', 1500],
    ['4sec', 4000],
    ['1min4sec', 64_000],
    ['119min', 7_140_000],
    ['', 0],
  ])('%s is %d ms', (text, ms) => {
    expect(parseSsTimer(text)).toBe(ms)
  })

  it('refuses what it cannot read', () => {
    expect(() => parseSsTimer('soon')).toThrow(/Cannot read the ss timer "soon"/)
    expect(() => parseSsTimer('4.8.9ms')).toThrow()
  })
})
