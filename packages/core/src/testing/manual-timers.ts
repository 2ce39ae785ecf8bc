import type { Timers } from '../runtime.ts'

export interface ManualTimers extends Timers {
  /** Move time forward, running every timer that falls due, in order. */
  advance(ms: number): void
  /** Timers waiting. */
  pending(): number
}

export function createManualTimers(start = 1_700_000_000_000): ManualTimers {
  let now = start
  let seq = 0
  const timers = new Map<number, { at: number; fn: () => void }>()
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = ++seq
      timers.set(id, { at: now + Math.max(0, ms), fn })
      return id
    },
    clearTimeout: (h) => {
      timers.delete(h as number)
    },
    pending: () => timers.size,
    advance: (ms) => {
      const until = now + ms
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | undefined
        for (const t of timers) if (t[1].at <= until && (next === undefined || t[1].at < next[1].at)) next = t
        if (next === undefined) break
        timers.delete(next[0])
        now = Math.max(now, next[1].at)
        next[1].fn()
      }
      now = until
    },
  }
}
