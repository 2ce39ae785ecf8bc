/** Small capability interfaces injected into every package: time, logs, cancellation. */

export interface AbortOptions {
  readonly signal?: AbortSignal
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
  /** A monotonic reading in milliseconds, for durations. */
  monotonic(): number
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
}

export interface Logger {
  debug(fields: Record<string, unknown>, msg: string): void
  info(fields: Record<string, unknown>, msg: string): void
  warn(fields: Record<string, unknown>, msg: string): void
  error(fields: Record<string, unknown>, msg: string): void
  child(fields: Record<string, unknown>): Logger
}

/** A logger that drops everything: the default in tests and libraries. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
}

/** Something with a lifecycle; the agent starts services in order and stops them in reverse. */
export interface Service {
  start(options?: AbortOptions): Promise<void>
  stop(): Promise<void>
}

/** Time and timers, injected so tests move a manual clock (./testing createManualTimers) instead of sleeping. */
export interface Timers {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const systemTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms)
    // A component's timers alone must not keep the process alive: its sockets and signal handlers do.
    t.unref()
    return t
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
}
