export {
  dialFast,
  FAST_ALPN,
  type FastCredentials,
  type FastDialOptions,
  type FastServer,
  type FastServerOptions,
  fastCredentials,
  startFastServer,
} from './fast/fast-channel.ts'
export {
  createFastPool,
  type FastDial,
  type FastPeerStatus,
  type FastPool,
  type FastPoolOptions,
} from './fast/fast-pool.ts'
export {
  createFastPunchHandler,
  createPunchPorts,
  FAST_PUNCH_PROTOCOL,
  type FastPunchDeps,
  type PunchPorts,
  parsePunchPorts,
  punchFastSocket,
} from './fast/fast-punch.ts'
export {
  createFastRelayHandler,
  FAST_RELAY_PROTOCOL,
  type FastRelayServer,
  relayFastSocket,
  startFastRelayServer,
} from './fast/fast-relay.ts'
export { openFastFlow } from './fast/open-fast-flow.ts'
export { fixedDecoder, readSocketPrefix } from './fast/read-socket-prefix.ts'
export { SEALED_ALPN, SealedSocket } from './fast/sealed-socket.ts'
export { checkExit, type ExitDestination, type ExitPolicy, endpointKey } from './flow/check-exit.ts'
export {
  createDatagramDecoder,
  type DatagramDecoder,
  encodeDatagram,
  MAX_DATAGRAM_BYTES,
} from './flow/datagram-framing.ts'
export {
  type AcceptedFlow,
  createFlowHandler,
  type FlowExit,
  type FlowHandler,
  type FlowHandlerComponents,
  type FlowHandlerOptions,
  type FlowSplice,
} from './flow/flow-handler.ts'
export { createFlowHeaderDecoder, encodeFlowHeader, type FlowHeaderDecoder } from './flow/flow-header.ts'
export { createFlowResponseDecoder, encodeFlowResponse, type FlowResponseDecoder } from './flow/flow-response.ts'
export {
  FLOW_PROTOCOL,
  FLOW_REFUSALS,
  FLOW_VERSION,
  type FlowChunk,
  type FlowEndpoint,
  type FlowHeader,
  FlowProtocolError,
  type FlowRefusal,
  type FlowResult,
  MAX_FLOW_HEADER_BYTES,
} from './flow/flow-types.ts'
export { openFlow, readFlowResponse } from './flow/open-flow.ts'
export { bestConnection, connectionIp, isRelayed, pathKind, relayOf } from './mesh/connection-path.ts'
export { createMesh, type Mesh, type MeshDeps, type MeshOptions, type MeshPeer } from './mesh/create-mesh.ts'
export {
  createMeshNode,
  MESH_STREAMS_PER_CONNECTION,
  type MeshNode,
  type MeshNodeOptions,
  type RelayReservations,
} from './mesh/create-mesh-node.ts'
export {
  type NatKind,
  type NatMapping,
  type ObserveTarget,
  observeMapping,
  observeOnce,
} from './mesh/observe-mapping.ts'
export { type ObserveServer, startObserveServer } from './mesh/observe-server.ts'
export { createRelayKeeper, type RelayInfo, type RelayKeeper, type RelayKeeperOptions } from './mesh/relay-keeper.ts'
export { UPGRADE_PROTOCOL } from './mesh/upgrade-protocol.ts'
export { createIpRangeSet, type IpRangeSet } from './net/ip-range-set.ts'
export { createAnnounceFilter, isPublicAddress } from './node/announce-filter.ts'
export {
  createTunnelNode,
  type EncrypterName,
  type PeerRefusal,
  type PskMode,
  type TunnelNode,
  type TunnelNodeComponents,
  type TunnelNodeOptions,
  type TunnelServices,
  type UpgradeComponents,
} from './node/create-tunnel-node.ts'
export { loadOrCreateIdentityKey } from './node/identity-key.ts'
export { createMemberGater, type MemberGater } from './node/member-gater.ts'
export { createPeerTable, type PeerTable, type PeerTableComponents } from './node/peer-table.ts'
export { pskProof } from './node/psk-proof.ts'
export { generateSwarmKey, loadSwarmKey, parseSwarmKey, type SwarmKey, writeSwarmKey } from './node/swarm-key.ts'
export { type PunchConnectOptions, punchConnect } from './punch/punch-connect.ts'
export { rstClose } from './punch/reuse-socket.ts'
export { type UpgradePunchedOptions, upgradePunchedSocket } from './punch/upgrade-punched-socket.ts'
