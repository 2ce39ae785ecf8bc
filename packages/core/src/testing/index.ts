export { createManualTimers, type ManualTimers } from './manual-timers.ts'
