export { EndpointBalancer, type EndpointBalancerOptions } from './balance/endpoint-balancer.ts'
export { type EndpointPick, endpointId, type PickInput, pickEndpoint } from './balance/pick-endpoint.ts'
export { type NativeRelay, nativeRelay } from './native/native-relay.ts'
export { nativeSpliceCounts } from './native/native-splice.ts'
export {
  type FlowCounters,
  type FlowInfo,
  FlowRegistry,
  type FlowRegistryOptions,
  type PeerFlowTotals,
  type TrackedFlow,
} from './registry/flow-registry.ts'
export type {
  FlowAddress,
  FlowAnswer,
  FlowRequest,
  FlowStream,
  FlowStreamHandlers,
  OpenedFlow,
  OpenFlowStream,
  Timers,
} from './stream/flow-stream.ts'
export { systemTimers } from './stream/flow-stream.ts'
export {
  type MessageChunk,
  type MessageStreamFlowStreamOptions,
  type MessageStreamLike,
  messageStreamFlowStream,
} from './stream/message-stream-flow-stream.ts'
export { socketFlowStream } from './stream/socket-flow-stream.ts'
export { type Splice, type SpliceOptions, type SpliceResult, splice } from './stream/splice.ts'
export {
  CONNECT_ATTEMPTS,
  type ConnectRefusal,
  createFlowExit,
  type ExitFlow,
  type ExitSplice,
  type FlowExitDeps,
  type FlowExitOptions,
  type FlowExitService,
} from './tcp/flow-exit.ts'
export {
  type CapturedFlow,
  type FlowTarget,
  proxyTcp,
  type SenderDeps,
  type TcpFlowOutcome,
  type TcpProxyOptions,
} from './tcp/proxy-tcp.ts'
export {
  type DatagramFraming,
  framedSender,
  UDP_STREAM_OVERDRAFT_BYTES,
  type UdpExitRun,
  udpExitSplice,
} from './udp/udp-exit.ts'
export {
  type CapturedDatagramLike,
  createUdpProxy,
  type UdpProxy,
  type UdpProxyCounters,
  type UdpProxyOptions,
  type UdpSenderDeps,
} from './udp/udp-proxy.ts'
