/**
 * Timers as a capability, so debouncing and backoff are tested by advancing a fake clock
 * (`ManualTimers` in ./testing) instead of sleeping.
 */
export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

/** Opaque to callers: whatever the implementation hands back. */
export type TimerHandle = { readonly __timer: never } | object

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}
