import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import type { PeerId, Transport } from '@libp2p/interface'
import { ping } from '@libp2p/ping'
import { yamux } from '@libp2p/yamux'
import { PodlinkError } from '@podlink/core'
import { createLibp2p } from 'libp2p'
import type {
  TunnelNode,
  TunnelNodeComponents,
  TunnelNodeOptions,
  TunnelServices,
  UpgradeComponents,
} from '../node/create-tunnel-node.ts'
import { baseLibp2pOptions, memberControls, memberGaterFor, YAMUX_OPTIONS } from '../node/create-tunnel-node.ts'
import { skipRepeatedProtocolMerges } from '../node/stream-overheads.ts'

/**
 * Streams one mesh connection may carry each way. yamux's default, 1,000, sits below the exit's per-peer flow limit
 * (1,024, the agent's MAX_FLOWS_PER_PEER): a peer flooding one connection met yamux's silent stream reset (or its own
 * 'max outbound streams exceeded') before the exit's counted too-many-flows refusal, and an entry holding 1,000 flows
 * to one exit failed on its own side. 2,048 leaves the per-peer limit the one that bites, with room for the refusals
 * being answered and the other protocols (ping, identify, whoami, upgrade, relay hops). Each pending stream costs the
 * agent memory, so not more: the flow protocol's own per-protocol limit is 4,096.
 */
export const MESH_STREAMS_PER_CONNECTION = 2048

export interface MeshNodeOptions extends TunnelNodeOptions {
  /**
   * Run a circuit relay v2 server for the members: no data or time limit (research/libp2p-lab.md §5.3), up to 1024
   * reservations. AutoNAT is never run (it closes clients' relay connections, §5.4).
   */
  readonly relayServer?: boolean
}

/** The reservation half of circuit-relay-v2's transport, driven explicitly by the RelayKeeper (no discovery). */
export interface RelayReservations {
  addRelay(peerId: PeerId, type: 'configured'): Promise<unknown>
  hasReservation(peerId: PeerId): boolean
  addEventListener(type: 'relay:removed' | 'relay:created-reservation', listener: (evt: Event) => void): void
  removeEventListener(type: 'relay:removed' | 'relay:created-reservation', listener: (evt: Event) => void): void
}

export interface MeshNode extends TunnelNode {
  readonly reservations: RelayReservations
  readonly relayServer: boolean
}

interface CapturedComponents extends UpgradeComponents {
  readonly transportManager: { getTransports(): Transport[] }
}

/**
 * createTunnelNode's node (TCP reusePort, TLS/noise, yamux, PSK, member gater, announce filter, identify, ping) plus
 * the circuit relay transport on every agent and, on relay agents, the relay server; yamux carries up to
 * MESH_STREAMS_PER_CONNECTION streams each way. The relay transport listens on
 * no `/p2p-circuit` address: reservations are made on chosen relays by `createRelayKeeper` through `reservations`,
 * which re-reserves faster than discovery mode and lets the mesh pick the nearest relays.
 */
export async function createMeshNode(options: MeshNodeOptions, components: TunnelNodeComponents): Promise<MeshNode> {
  const members = memberGaterFor(options)
  const { tcp: tcpTransport, ...base } = baseLibp2pOptions(options, members)
  const relayServer = options.relayServer === true
  const libp2p = await createLibp2p({
    privateKey: components.privateKey,
    ...base,
    transports: [tcpTransport, circuitRelayTransport({ reservationCompletionTimeout: 5_000 })],
    streamMuxers: [
      yamux({
        ...YAMUX_OPTIONS,
        maxInboundStreams: MESH_STREAMS_PER_CONNECTION,
        maxOutboundStreams: MESH_STREAMS_PER_CONNECTION,
      }),
    ],
    services: {
      identify: identify(),
      // The keeper and the mesh both ping (relays are peers too): the default of 1 stream per connection collides.
      ping: ping({ maxOutboundStreams: 8, maxInboundStreams: 8 }),
      components: (c: CapturedComponents): CapturedComponents => ({
        upgrader: c.upgrader,
        logger: c.logger,
        events: c.events,
        transportManager: c.transportManager,
      }),
      ...(relayServer
        ? { relay: circuitRelayServer({ reservations: { maxReservations: 1024, applyDefaultLimit: false } }) }
        : {}),
    },
  })
  // libp2p writes each stream's protocol to the peer store, on both sides, for every flow: answered from memory.
  skipRepeatedProtocolMerges(libp2p.peerStore)
  const captured = libp2p.services.components as CapturedComponents
  const transport = captured.transportManager
    .getTransports()
    .find((t) => (t as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] === '@libp2p/circuit-relay-v2-transport')
  const reservations = (transport as unknown as { reservationStore?: RelayReservations } | undefined)?.reservationStore
  if (reservations === undefined) {
    await libp2p.stop()
    throw new PodlinkError(
      'MESH_NODE',
      'Cannot build the mesh node as the circuit relay transport has no reservation store',
    )
  }
  return {
    libp2p: libp2p as unknown as TunnelNode['libp2p'],
    peerId: libp2p.peerId.toString(),
    components: captured,
    reservations,
    relayServer,
    ...memberControls(libp2p as unknown as TunnelNode['libp2p'], members),
  }
}

export type { TunnelServices }
