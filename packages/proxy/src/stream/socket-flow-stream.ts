import type net from 'node:net'
import type { FlowStream, FlowStreamHandlers } from './flow-stream.ts'

/**
 * A connected (or connecting) TCP socket as a FlowStream.
 *
 * Guarantees: half-close is carried (the socket is switched to allowHalfOpen, whatever it was created with: a
 * server's sockets default to closing their side as soon as the peer's FIN arrives, which would cut every response
 * that follows a request's FIN); `abort` sends an RST, not a FIN, so the client sees the reset the remote saw;
 * Nagle is off, since the bytes were already coalesced by the original sender.
 */
export function socketFlowStream(
  socket: net.Socket,
  options: {
    /**
     * Reset for sockets whose handle is not TCP (a TLS socket: `resetAndDestroy` refuses its TLSWrap handle); the
     * tunnel's `rstClose` sets SO_LINGER 0 on the fd under it, so the close is an RST there too.
     */
    reset?: (socket: net.Socket) => void
  } = {},
): FlowStream {
  socket.allowHalfOpen = true
  socket.setNoDelay(true)
  let handlers: FlowStreamHandlers | null = null
  let error: Error | undefined
  let ended = false
  let closed = false
  let listening = false

  const listen = (): void => {
    listening = true
    socket.on('data', (chunk: Buffer) => handlers?.onData(chunk))
    socket.on('end', () => {
      ended = true
      handlers?.onEnd()
    })
    socket.on('drain', () => handlers?.onDrain())
    socket.on('error', (err) => {
      error ??= err
    })
    socket.on('close', () => {
      closed = true
      handlers?.onClose(error)
    })
  }

  return {
    send: (chunk) => socket.write(chunk),
    get needsDrain() {
      return socket.writableNeedDrain
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    closeWrite: () => {
      if (!socket.destroyed && !socket.writableEnded) socket.end()
    },
    abort: (err) => {
      error ??= err
      if (socket.destroyed) return
      if (options.reset !== undefined) {
        options.reset(socket)
        return
      }
      try {
        socket.resetAndDestroy()
      } catch {
        // Not a TCP handle (a pipe in some tests): a plain destroy is the closest reset there is.
        socket.destroy()
      }
    },
    start: (h) => {
      handlers = h
      if (!listening) {
        // A socket already over (its events fired before anyone listened) still tells its new handlers.
        if (socket.destroyed) {
          closed = true
          queueMicrotask(() => handlers?.onClose(error ?? (socket.errored as Error | null) ?? undefined))
        } else if (socket.readableEnded) ended = true
        listen()
        if (ended && !closed) queueMicrotask(() => handlers?.onEnd())
        socket.resume()
      }
    },
  }
}
