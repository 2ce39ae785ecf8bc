/** Metrics, health and the operator's diagnostics the agent serves; build-agent.ts wires them. */
export {
  type AgentMetrics,
  type CaptureClass,
  createAgentMetrics,
  EXIT_REFUSAL_REASONS,
  HOLEPUNCH_REASONS,
  type HolepunchReason,
} from './agent-metrics.ts'
export { type EventLoopWatch, watchEventLoop } from './event-loop-watch.ts'
export { type Destination, explainDestination, parseDestination } from './explain-destination.ts'
export { createMetricRegistry, type MetricRegistry } from './metric-registry.ts'
export {
  type ObserveServer,
  type ObserveServerDeps,
  type ObserveServerOptions,
  startObserveServer,
} from './observe-server.ts'
export { summarisePing } from './summarise-ping.ts'
