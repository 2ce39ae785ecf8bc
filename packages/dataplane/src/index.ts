export {
  createExitPorts,
  type ExitPorts,
  type ExitPortsOptions,
  parseReservedPorts,
  readLocalPorts,
} from './capture/exit-ports.ts'
export { createMarkedTcpConnection, createMarkedUdpSocket } from './capture/marked-socket.ts'
export {
  type CapturedConnection,
  createTcpCapture,
  type TcpCapture,
  type TcpCaptureOptions,
} from './capture/tcp-capture.ts'
export {
  type CapturedDatagram,
  createUdpCapture,
  type UdpCapture,
  type UdpCaptureOptions,
  type UdpCaptureStats,
} from './capture/udp-capture.ts'
export { type ConntrackLookup, createConntrackLookup } from './native/conntrack.ts'
export type { SocketAddress } from './native/sockaddr.ts'
export {
  computeRuleset,
  type DataplaneTables,
  DEFAULT_RULESET_OPTIONS,
  type RulesetOptions,
} from './rules/compute-ruleset.ts'
export { type RenderedRestore, renderRestore } from './rules/render-restore.ts'
export type { Chain, FamilyRuleset, IpSet, PolicyRoute, Rule, Ruleset } from './rules/ruleset.ts'
export { type TracedPacket, type TraceResult, tracePacket } from './rules/trace-packet.ts'
export type { Clock } from './sync/clock.ts'
export {
  createDataplane,
  type Dataplane,
  type DataplaneDeps,
  type DataplaneEvent,
  type DataplaneOptions,
  type DataplaneStatus,
} from './sync/create-dataplane.ts'
export {
  chooseIptablesMode,
  createNetfilter,
  type IptablesMode,
  type Netfilter,
  type RealNetfilterOptions,
} from './sync/netfilter.ts'
