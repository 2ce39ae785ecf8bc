export { exampleTables } from './example-tables.ts'
export { createFakeNetfilter, type FakeNetfilter } from './fake-netfilter.ts'
export { createManualClock, type ManualClock } from './manual-clock.ts'
export { deleteNetnsWithPrefix, enterNetns, sh, shQuiet } from './netns.ts'
