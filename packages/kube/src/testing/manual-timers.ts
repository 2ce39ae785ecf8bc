import type { TimerHandle, Timers } from '../watch/timers.ts'

interface Pending {
  readonly id: number
  readonly at: number
  readonly fn: () => void
}

/** Timers that fire only when a test calls `advance`: debouncing and backoff without sleeping. */
export class ManualTimers implements Timers {
  #now = 0
  #nextId = 0
  #pending: Pending[] = []

  get now(): number {
    return this.#now
  }

  /** Delays of the timers waiting now, in firing order. */
  pendingDelays(): number[] {
    return this.#pending.map((p) => p.at - this.#now)
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const entry = { id: this.#nextId++, at: this.#now + Math.max(0, ms), fn }
    this.#pending.push(entry)
    this.#pending.sort((a, b) => a.at - b.at || a.id - b.id)
    return entry
  }

  clearTimeout(handle: TimerHandle): void {
    this.#pending = this.#pending.filter((p) => p !== handle)
  }

  /** Moves time forward, firing due timers in order (timers they set are honoured too). */
  advance(ms: number): void {
    const until = this.#now + ms
    for (;;) {
      const next = this.#pending[0]
      if (next === undefined || next.at > until) break
      this.#pending.shift()
      this.#now = next.at
      next.fn()
    }
    this.#now = until
  }
}
