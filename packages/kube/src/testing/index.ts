export { FakeClusterSource } from './fake-cluster-source.ts'
export { FakeResourceWatch } from './fake-resource-watch.ts'
export { ManualTimers } from './manual-timers.ts'
