export { keepaliveTimersMs } from './keepalive-timers.ts'
export { createManualTimers, type ManualTimers } from './manual-timers.ts'
