export { createManualTimers, type ManualTimers } from '@podlink/core/testing'
