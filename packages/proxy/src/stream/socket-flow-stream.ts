import type net from 'node:net'
import type { HandOff, SealedHandOff } from '@podlink/core'
import { canHandOffPlain, handOffPlain } from '../native/hand-off.ts'
import type { FlowStream, FlowStreamHandlers } from './flow-stream.ts'
import { lendReads } from './lend-reads.ts'

/** A flow that carried this much one way reads into a lent buffer from then on (see lendReads). */
const LEND_AFTER_BYTES = 256 * 1024

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
  let lend: (() => boolean) | null = null
  let lent = false
  let read = 0
  const lentChunk = (chunk: Buffer): void => handlers?.onData(chunk)

  const onData = (chunk: Buffer): void => {
    handlers?.onData(chunk)
    // A bulk flow reads into a lent buffer from here on (what is already buffered still comes as 'data', first).
    // Short flows never switch: a 64 KiB buffer per socket would cost churn more than Node's right-sized reads.
    read += chunk.length
    if (lend !== null && !lent && read >= LEND_AFTER_BYTES) lent = lendReads(socket, lentChunk, lend)
  }
  const onEnd = (): void => {
    ended = true
    handlers?.onEnd()
  }
  const onDrain = (): void => handlers?.onDrain()
  const onError = (err: Error): void => {
    error ??= err
  }
  const onSocketClose = (): void => {
    closed = true
    handlers?.onClose(error)
  }
  const events = [
    ['data', onData],
    ['end', onEnd],
    ['drain', onDrain],
    ['error', onError],
    ['close', onSocketClose],
  ] as const
  const listen = (): void => {
    listening = true
    for (const [event, fn] of events) socket.on(event, fn as (...args: unknown[]) => void)
  }
  const unlisten = (): void => {
    listening = false
    for (const [event, fn] of events) socket.off(event, fn as (...args: unknown[]) => void)
  }

  return {
    send: (chunk) => socket.write(chunk),
    get holdsSent() {
      // TLS: Node's TLSWrap encrypts what it is given at once (or copies it while a handshake is pending), so only
      // chunks queued in JS behind a write still in progress are held; TCP: libuv writes from the caller's memory
      // until the write completes, so anything not yet written is.
      if ((socket as net.Socket & { encrypted?: boolean }).encrypted === true) {
        const state = (socket as unknown as { _writableState?: { bufferedRequestCount?: number } })._writableState
        return socket.writableCorked > 0 || state?.bufferedRequestCount !== 0
      }
      return socket.writableLength > 0
    },
    lendReads: (mayReuse) => {
      // Not a sealed fast socket: lending reads into the TCP handle under it would skip its records' opening.
      if (typeof (socket as unknown as { sealedHandOff?: unknown }).sealedHandOff !== 'function') lend = mayReuse
    },
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
    handOffKind: () => {
      if (ended || closed || lent) return null
      if (typeof (socket as unknown as { sealedHandOff?: unknown }).sealedHandOff === 'function') return 'sealed'
      return canHandOffPlain(socket) ? 'plain' : null
    },
    handOff: (): HandOff | null => {
      if (ended || closed || lent) return null
      const wasListening = listening
      const wasPaused = socket.isPaused()
      if (wasListening) unlisten()
      const restore = (): void => {
        if (wasListening) listen()
        if (!wasPaused) socket.resume()
      }
      const sealed = (socket as unknown as { sealedHandOff?: () => SealedHandOff | null }).sealedHandOff
      const taken = typeof sealed === 'function' ? sealed.call(socket) : handOffPlain(socket, restore)
      if (taken === null) restore()
      else if (taken.kind === 'sealed') {
        const undo = taken.undo
        return {
          ...taken,
          undo: () => {
            undo()
            restore()
          },
        }
      }
      return taken
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
