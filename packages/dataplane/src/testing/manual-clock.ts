export { createManualTimers as createManualClock, type ManualTimers as ManualClock } from '@podlink/core/testing'
