import type { ConnectionGater, PeerId } from '@libp2p/interface'

/**
 * Admits only peers whose IDs are in the member set (IDs published on this cluster's Nodes). Checked after the
 * encryption handshake authenticated the peer and before the muxer runs, so a non-member never opens a stream;
 * dials to non-members are refused before any socket. Relay reservations and relayed connections need members
 * on both ends. The set is replaced whole by `setMembers` (desired state, idempotent).
 */
export interface MemberGater {
  readonly gater: ConnectionGater
  setMembers(peerIds: Iterable<string>): void
  isMember(peerId: PeerId | string): boolean
  members(): ReadonlySet<string>
}

export function createMemberGater(initial: Iterable<string> = []): MemberGater {
  let members = new Set(initial)
  const isMember = (peerId: PeerId | string): boolean => members.has(peerId.toString())
  const deny = (peerId: PeerId): boolean => !isMember(peerId)
  return {
    gater: {
      denyDialPeer: deny,
      denyInboundEncryptedConnection: deny,
      denyOutboundEncryptedConnection: deny,
      denyInboundRelayReservation: deny,
      denyOutboundRelayedConnection: (source, destination) => deny(source) || deny(destination),
      denyInboundRelayedConnection: (relay, remote) => deny(relay) || deny(remote),
    },
    setMembers(peerIds: Iterable<string>): void {
      members = new Set(peerIds)
    },
    isMember,
    members: () => members,
  }
}
