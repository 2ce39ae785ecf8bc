import type { Socket } from 'node:net'
import type { Connection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { KEEPALIVE_IDLE_MS, PodlinkError } from '@podlink/core'
import type { UpgradeComponents } from '../node/create-tunnel-node.ts'
import { SocketMultiaddrConnection } from './socket-multiaddr-connection.ts'

export interface UpgradePunchedOptions {
  /**
   * Decided by the signalling, never by the socket (both sides' connect() succeeded): the initiator is the TLS/noise
   * initiator and yamux client (`outbound`), the responder the other half (`inbound`).
   */
  readonly role: 'initiator' | 'responder'
  /** The peer we expect; the encrypter checks it on both sides, so a wrong peer fails the upgrade. */
  readonly remotePeer: string
  readonly signal: AbortSignal
}

/**
 * Turn a punched socket into an authenticated, multiplexed libp2p connection through the node's own upgrader: the
 * connection is gated, listed in `getConnections()`, runs identify, and carries streams like a dialled one.
 * Rejects with PodlinkError PUNCH_UPGRADE_FAILED (the socket is destroyed) when encryption or muxing fails.
 */
export async function upgradePunchedSocket(
  socket: Socket,
  options: UpgradePunchedOptions,
  components: UpgradeComponents,
): Promise<Connection> {
  const host = socket.remoteAddress
  const port = socket.remotePort
  if (host === undefined || port === undefined || socket.destroyed) {
    socket.destroy()
    throw new PodlinkError('PUNCH_UPGRADE_FAILED', 'Cannot upgrade the punched socket as it is already closed')
  }
  socket.setNoDelay(true)
  // Keeps the NAT mappings alive while the connection idles, and finds a mapping a router forgot (see KEEPALIVE_IDLE_MS).
  socket.setKeepAlive(true, KEEPALIVE_IDLE_MS)
  const family = host.includes(':') ? 'ip6' : 'ip4'
  const maConn = new SocketMultiaddrConnection({
    socket,
    remoteAddr: multiaddr(`/${family}/${host}/tcp/${port}/p2p/${options.remotePeer}`),
    direction: options.role === 'initiator' ? 'outbound' : 'inbound',
    log: components.logger.forComponent('podlink:tunnel:punched'),
  })
  try {
    if (options.role === 'initiator')
      return await components.upgrader.upgradeOutbound(maConn, { signal: options.signal })
    // upgradeInbound resolves with nothing: the Connection is the 'connection:open' whose remote address is ours.
    const opened = new Promise<Connection>((resolve, reject) => {
      const onOpen = (evt: CustomEvent<Connection>): void => {
        if (evt.detail.remoteAddr.equals(maConn.remoteAddr)) {
          components.events.removeEventListener('connection:open', onOpen)
          resolve(evt.detail)
        }
      }
      components.events.addEventListener('connection:open', onOpen)
      const onAbort = (): void => {
        components.events.removeEventListener('connection:open', onOpen)
        reject(options.signal.reason)
      }
      options.signal.addEventListener('abort', onAbort, { once: true })
    })
    await components.upgrader.upgradeInbound(maConn, { signal: options.signal })
    return await opened
  } catch (err) {
    socket.destroy()
    throw new PodlinkError(
      'PUNCH_UPGRADE_FAILED',
      `Cannot upgrade the punched socket to ${options.remotePeer} as ${String(err)}`,
      {
        cause: err,
      },
    )
  }
}
