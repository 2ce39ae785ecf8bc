/** Time as the syncer sees it: core's Timers; tests pass a manual clock so that they never sleep. */
export { systemTimers as systemClock, type Timers as Clock } from '@podlink/core'
