import type { FlowStream, FlowStreamHandlers } from './flow-stream.ts'

/** A chunk as libp2p v3 delivers it: a Uint8Array or a Uint8ArrayList (iterable over its parts). */
export type MessageChunk = Uint8Array | { readonly byteLength: number; [Symbol.iterator](): Iterator<Uint8Array> }

/**
 * The part of a libp2p v3 `Stream` (MessageStream) the proxy uses, declared structurally so that the proxy does not
 * depend on libp2p: a `Stream` from `@libp2p/interface` is assignable to it.
 */
export interface MessageStreamLike {
  readonly status: string
  readonly writableNeedsDrain: boolean
  readonly readableEnded: boolean
  maxReadBufferLength: number
  send(data: Uint8Array): boolean
  close(): Promise<void>
  abort(err: Error): void
  pause(): void
  resume(): void
  unshift(data: Uint8Array): void
  addEventListener(type: 'message', listener: (evt: { readonly data: MessageChunk }) => void): void
  addEventListener(type: 'close', listener: (evt: { readonly error?: Error | undefined }) => void): void
  addEventListener(type: 'drain' | 'end', listener: () => void): void
}

export interface MessageStreamFlowStreamOptions {
  /**
   * Bytes the stream may hold unread while paused. yamux keeps granting what it already granted, up to its largest
   * window (16 MiB by default), after a pause, and libp2p resets a stream whose read buffer passes this bound
   * (4 MiB by default): a slow reader would see its flow reset instead of slowed. Default 16 MiB + 1 MiB.
   */
  readonly maxReadBufferBytes?: number
}

const DEFAULT_MAX_READ_BUFFER = 17 * 1024 * 1024

/**
 * A libp2p v3 stream as a FlowStream. Start it only after the flow prefix (header or answer) was read off it: the
 * tunnel's `readPrefix` puts back what followed the prefix, and this adapter delivers it first.
 *
 * Not used, on purpose: the async iterator (unbounded queue, no backpressure) and `onDrain()` (its promise is kept
 * once resolved, so every later call resolves at once: @libp2p/utils 7.4.1); the `drain` event is used instead.
 */
export function messageStreamFlowStream(
  stream: MessageStreamLike,
  options: MessageStreamFlowStreamOptions = {},
): FlowStream {
  stream.maxReadBufferLength = Math.max(
    stream.maxReadBufferLength,
    options.maxReadBufferBytes ?? DEFAULT_MAX_READ_BUFFER,
  )
  let handlers: FlowStreamHandlers | null = null
  let listening = false
  let paused = false
  let closed = false
  const terminal = (): boolean => stream.status === 'closed' || stream.status === 'aborted' || stream.status === 'reset'

  const listen = (): void => {
    listening = true
    stream.addEventListener('message', (evt) => {
      const h = handlers
      if (h === null) return
      if (evt.data instanceof Uint8Array) {
        h.onData(evt.data)
        return
      }
      // One message holds everything that queued while paused (up to a yamux window). Hand it over part by part
      // and put the rest back once the reader pauses, so a slow sink holds one part, not a window.
      const parts = [...evt.data]
      for (let i = 0; i < parts.length; i++) {
        if (paused && !terminal()) {
          for (let j = parts.length - 1; j >= i; j--) stream.unshift(parts[j]!)
          return
        }
        h.onData(parts[i]!)
      }
    })
    // libp2p emits 'end' before the 'close' of a reset or abort: that is no end of data, the close reports it.
    stream.addEventListener('end', () => {
      if (stream.status !== 'reset' && stream.status !== 'aborted') handlers?.onEnd()
    })
    stream.addEventListener('drain', () => handlers?.onDrain())
    stream.addEventListener('close', (evt) => {
      closed = true
      handlers?.onClose(evt.error)
    })
  }

  return {
    send: (chunk) => stream.send(chunk),
    get needsDrain() {
      return stream.writableNeedsDrain
    },
    pause: () => {
      paused = true
      if (!terminal() && stream.readableEnded === false) safely(() => stream.pause())
    },
    resume: () => {
      paused = false
      if (!terminal()) safely(() => stream.resume())
    },
    closeWrite: () => {
      stream.close().catch((err: unknown) => stream.abort(err instanceof Error ? err : new Error(String(err))))
    },
    abort: (err) => stream.abort(err),
    start: (h) => {
      handlers = h
      if (listening) return
      const wasTerminal = terminal()
      const wasEnded = stream.readableEnded && stream.status !== 'reset' && stream.status !== 'aborted'
      listen()
      if (wasEnded) queueMicrotask(() => handlers?.onEnd())
      if (wasTerminal && !closed) {
        closed = true
        const err = stream.status === 'closed' ? undefined : new Error(`stream ${stream.status} before it was read`)
        queueMicrotask(() => handlers?.onClose(err))
      }
    },
  }
}

/** pause/resume throw on a stream whose readable end closed meanwhile; the close event reports that state. */
function safely(fn: () => void): void {
  try {
    fn()
  } catch {
    // The stream's 'close' event carries the outcome.
  }
}
