export { createManualTimers, type ManualTimers } from './manual-timers.ts'
export { type MemoryFlowStream, type MemoryFlowStreamOptions, memoryFlowStreamPair } from './memory-flow-stream.ts'
