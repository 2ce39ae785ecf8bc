/** The agent's structured JSON logs (pino), behind core's Logger so libraries never see pino. */
import type { Logger } from '@podlink/core'
import { type Logger as Pino, pino } from 'pino'

function wrap(p: Pino): Logger {
  return {
    debug: (f, m) => p.debug(f, m),
    info: (f, m) => p.info(f, m),
    warn: (f, m) => p.warn(f, m),
    error: (f, m) => p.error(f, m),
    child: (f) => wrap(p.child(f)),
  }
}

export function createLogger(level: string, fields: Record<string, unknown>): Logger {
  return wrap(pino({ level, base: fields, timestamp: pino.stdTimeFunctions.isoTime }))
}

/**
 * A log call for hot paths: at most one line per `intervalMs`; the lines it held back are counted
 * in the next one (`suppressed`), so a flood shows as one line a second, not a full disk.
 */
export function rateLimited(
  log: Logger,
  intervalMs = 1000,
): (level: 'warn' | 'info' | 'debug', fields: Record<string, unknown>, msg: string) => void {
  let last = 0
  let suppressed = 0
  return (level, fields, msg) => {
    const now = Date.now()
    if (now - last < intervalMs) {
      suppressed++
      return
    }
    last = now
    log[level](suppressed > 0 ? { ...fields, suppressed } : fields, msg)
    suppressed = 0
  }
}
