export { keepaliveTimersMs, parseSsTimer } from './keepalive-timers.ts'
export { createManualTimers, type ManualTimers } from './manual-timers.ts'
