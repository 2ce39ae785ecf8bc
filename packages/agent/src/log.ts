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
