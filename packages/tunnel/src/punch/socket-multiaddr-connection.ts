import type { Socket } from 'node:net'
import type { AbortOptions, Logger, MessageStreamDirection } from '@libp2p/interface'
import { AbstractMultiaddrConnection } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * A connected `net.Socket` as a libp2p MultiaddrConnection, for the upgrader. A trimmed copy of @libp2p/tcp's
 * TCPSocketMultiaddrConnection (11.0.28, socket-to-conn.js): its `toMultiaddrConnection` is not in the package's
 * exports map, and a deep import would break on its next layout change.
 * `direction` decides yamux's client/server role: it must be 'inbound' on the responder, or yamux fails with
 * "Both endpoints are clients" (research/tcp-punch.md §7).
 */
export interface SocketMultiaddrConnectionInit {
  readonly socket: Socket
  readonly remoteAddr: Multiaddr
  readonly direction: MessageStreamDirection
  readonly log: Logger
  /** Idle time before the connection is aborted. Default 2 min, as @libp2p/tcp. */
  readonly inactivityTimeoutMs?: number
}

/** Uint8ArrayList, named through the base class: uint8arraylist is not a direct dependency. */
type ChunkList = Parameters<AbstractMultiaddrConnection['sendData']>[0]

export class SocketMultiaddrConnection extends AbstractMultiaddrConnection {
  private readonly socket: Socket

  constructor(init: SocketMultiaddrConnectionInit) {
    super({ remoteAddr: init.remoteAddr, direction: init.direction, log: init.log })
    const socket = init.socket
    this.socket = socket
    socket.on('data', (buf: Buffer) => {
      this.onData(buf)
    })
    socket.on('error', (err) => {
      this.log('punched socket error', err)
      this.abort(err)
    })
    socket.setTimeout(init.inactivityTimeoutMs ?? 120_000)
    socket.once('timeout', () => {
      this.abort(new Error('punched socket idle timeout'))
    })
    socket.once('end', () => {
      this.onTransportClosed()
    })
    socket.once('close', (hadError) => {
      if (hadError) this.abort(new Error('TCP transmission error'))
      else this.onTransportClosed()
    })
    socket.on('drain', () => {
      this.safeDispatchEvent('drain')
    })
  }

  sendData(data: ChunkList): { sentBytes: number; canSendMore: boolean } {
    let sentBytes = 0
    let canSendMore = true
    for (const buf of data) {
      sentBytes += buf.byteLength
      canSendMore = this.socket.write(buf)
      if (!canSendMore) break
    }
    return { sentBytes, canSendMore }
  }

  async sendClose(options?: AbortOptions): Promise<void> {
    if (this.socket.destroyed) return
    const closed = new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(options?.signal?.reason)
      options?.signal?.addEventListener('abort', onAbort, { once: true })
      this.socket.once('close', () => {
        options?.signal?.removeEventListener('abort', onAbort)
        resolve()
      })
    })
    this.socket.destroySoon()
    await closed
  }

  sendReset(): void {
    if (this.socket.writableEnded) this.socket.destroy()
    else this.socket.resetAndDestroy()
  }

  sendPause(): void {
    this.socket.pause()
  }

  sendResume(): void {
    this.socket.resume()
  }
}
