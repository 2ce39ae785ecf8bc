import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import type { PeerId, Transport } from '@libp2p/interface'
import { ping } from '@libp2p/ping'
import { PodlinkError } from '@podlink/core'
import { createLibp2p } from 'libp2p'
import type {
  TunnelNode,
  TunnelNodeComponents,
  TunnelNodeOptions,
  TunnelServices,
  UpgradeComponents,
} from '../node/create-tunnel-node.ts'
import { baseLibp2pOptions, memberControls, memberGaterFor } from '../node/create-tunnel-node.ts'

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
 * the circuit relay transport on every agent and, on relay agents, the relay server. The relay transport listens on
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
