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
