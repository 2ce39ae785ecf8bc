/**
 * Watches the agent's event loop. A loop held for seconds (a long GC on a starved node, a synchronous burst)
 * delays every timer at once: libp2p's connection monitor then sees its pings "time out" and closes healthy
 * connections, flows and all. The operator needs to see that, so this keeps:
 * - `podlink_event_loop_delay_seconds` (max and p99 since the previous scrape, from perf_hooks' histogram);
 * - one warning log line per stall longer than `warnMs`, naming how long the loop was held.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Logger } from '@podlink/core'

export interface EventLoopWatch {
  /** max and p99 delay in milliseconds since the previous call, then resets. */
  take(): { maxMs: number; p99Ms: number }
  /** The longest stall seen since start, in milliseconds. */
  readonly worstMs: number
  stop(): void
}

export function watchEventLoop(log: Logger, options: { warnMs?: number; tickMs?: number } = {}): EventLoopWatch {
  const warnMs = options.warnMs ?? 1000
  const tickMs = options.tickMs ?? 250
  const hist = monitorEventLoopDelay({ resolution: 20 })
  hist.enable()
  let worstMs = 0
  let expected = performance.now() + tickMs
  const tick = setInterval(() => {
    const now = performance.now()
    const lateMs = now - expected
    expected = now + tickMs
    if (lateMs > worstMs) worstMs = lateMs
    if (lateMs >= warnMs)
      log.warn({ blockedMs: Math.round(lateMs) }, 'event loop was held; timers (and pings) ran late')
  }, tickMs)
  tick.unref()
  return {
    take() {
      const r = { maxMs: hist.max / 1e6, p99Ms: hist.percentile(99) / 1e6 }
      hist.reset()
      return r
    },
    get worstMs() {
      return worstMs
    },
    stop() {
      clearInterval(tick)
      hist.disable()
    },
  }
}
