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

/**
 * `onRefused` hears of every inbound connection, relay reservation or relayed connection refused for a non-member
 * (after the handshake proved its peer ID), so that refusals can be counted; never of our own refused dials.
 */
export function createMemberGater(
  initial: Iterable<string> = [],
  onRefused: (peerId: string) => void = () => {},
): MemberGater {
  let members = new Set(initial)
  const isMember = (peerId: PeerId | string): boolean => members.has(peerId.toString())
  const deny = (peerId: PeerId): boolean => !isMember(peerId)
  const refuse = (peerId: PeerId): boolean => {
    if (isMember(peerId)) return false
    onRefused(peerId.toString())
    return true
  }
  return {
    gater: {
      denyDialPeer: deny,
      denyInboundEncryptedConnection: refuse,
      denyOutboundEncryptedConnection: deny,
      denyInboundRelayReservation: refuse,
      denyOutboundRelayedConnection: (source, destination) => deny(source) || deny(destination),
      denyInboundRelayedConnection: (relay, remote) => deny(relay) || refuse(remote),
    },
    setMembers(peerIds: Iterable<string>): void {
      members = new Set(peerIds)
    },
    isMember,
    members: () => members,
  }
}
