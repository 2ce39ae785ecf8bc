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
  /** Bytes taken by `send` and not yet handed to the muxer (yamux's send window was spent). */
  readonly writeBufferLength: number
  maxReadBufferLength: number
  send(data: Uint8Array): boolean
  close(): Promise<void>
  abort(err: Error): void
  pause(): void
  resume(): void
  unshift(data: Uint8Array): void
  addEventListener(type: 'message', listener: (evt: { readonly data: MessageChunk }) => void): void
  addEventListener(type: 'close', listener: (evt: { readonly error?: Error | undefined }) => void): void
  addEventListener(type: 'drain' | 'end' | 'idle', listener: () => void): void
}

export interface MessageStreamFlowStreamOptions {
  /**
   * Bytes the stream may hold unread while paused. yamux keeps granting what it already granted, up to its largest
   * window (16 MiB by default), after a pause, and libp2p resets a stream whose read buffer passes this bound
   * (4 MiB by default): a slow reader would see its flow reset instead of slowed. Default 16 MiB + 1 MiB.
   */
  readonly maxReadBufferBytes?: number
  /**
   * Unsent bytes the stream may hold before `send` says stop, and below which a drain is reported. Default 64 KiB.
   */
  readonly writeHighWaterBytes?: number
}

const DEFAULT_MAX_READ_BUFFER = 17 * 1024 * 1024
const DEFAULT_WRITE_HIGH_WATER = 64 * 1024

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
  const highWater = options.writeHighWaterBytes ?? DEFAULT_WRITE_HIGH_WATER
  let handlers: FlowStreamHandlers | null = null
  let listening = false
  /**
   * A `send` said stop and no drain was reported since. libp2p's own answer is not enough to go by: yamux
   * dispatches 'drain' to EVERY stream whenever the connection drains, and each one clears its writableNeedsDrain,
   * even a stream whose send window is spent. Such a stream takes the next chunk into its write buffer and stops
   * again, so with several busy streams each one grew by a chunk per connection drain: 8 iperf3 flows left
   * 200-800 MiB in the entry agent and collapsed to a fifth of one flow's throughput. So a stop lasts until the
   * stream's own write buffer is back under the high-water mark.
   */
  let blocked = false
  /** The reader asked for no more data. */
  let paused = false
  /** libp2p's stream is paused: yamux sends no window updates, so at most one window is in flight. */
  let streamPaused = false
  let closed = false
  /**
   * Parts handed over by libp2p but not yet to the reader. They stay here, never back in libp2p's read
   * buffer: a libp2p resume grants the sender a new window whatever that buffer still holds, so putting
   * parts back there let a slow reader's buffer grow by a window per resume until libp2p reset the stream
   * (a 1 GiB flow over a fast punched path died at 200-750 MB). libp2p resumes only once this is empty.
   */
  const queue: Uint8Array[] = []
  let ended = false
  let closeError: { error: Error | undefined } | null = null
  const terminal = (): boolean => stream.status === 'closed' || stream.status === 'aborted' || stream.status === 'reset'

  /** deliver() is running: a 'message' dispatched meanwhile (by our own stream.resume()) only queues. */
  let delivering = false

  const deliver = (): void => {
    const h = handlers
    if (h === null || delivering) return
    delivering = true
    try {
      for (;;) {
        while (queue.length > 0 && !paused) h.onData(queue.shift()!)
        if (queue.length > 0) return
        if (ended) {
          ended = false
          h.onEnd()
        }
        if (closeError !== null) {
          const { error } = closeError
          closeError = null
          closed = true
          h.onClose(error)
          return
        }
        if (paused || !streamPaused || terminal()) return
        // libp2p's resume() dispatches its read buffer and THEN grants the sender a new window (sendResume). A reader
        // that pauses during that dispatch must not pause libp2p from inside it: libp2p would mark the stream paused,
        // then grant anyway, and keep granting on every frame while buffering them all, until its read buffer passed
        // maxReadBufferLength and it reset the stream (a 1 GiB echo died at 84-895 MB). So the dispatch only queues
        // here, and the reader gets it after resume() returned, where a pause reaches libp2p intact.
        streamPaused = false
        safely(() => stream.resume())
      }
    } finally {
      delivering = false
    }
  }

  const listen = (): void => {
    listening = true
    stream.addEventListener('message', (evt) => {
      if (evt.data instanceof Uint8Array) queue.push(evt.data)
      else for (const part of evt.data) queue.push(part)
      deliver()
    })
    // libp2p emits 'end' before the 'close' of a reset or abort: that is no end of data, the close reports it.
    stream.addEventListener('end', () => {
      if (stream.status === 'reset' || stream.status === 'aborted') return
      ended = true
      deliver()
    })
    stream.addEventListener('drain', maybeDrained)
    stream.addEventListener('idle', maybeDrained)
    stream.addEventListener('close', (evt) => {
      if (evt.error !== undefined) {
        // A reset or abort: what is queued is lost with the flow.
        queue.length = 0
        ended = false
        closed = true
        handlers?.onClose(evt.error)
        return
      }
      closeError = { error: undefined }
      deliver()
    })
  }

  const full = (): boolean => stream.writableNeedsDrain || stream.writeBufferLength > highWater
  /** After libp2p's own drain handling (it sends its queue in a microtask queued before this one). */
  const maybeDrained = (): void => {
    if (!blocked) return
    queueMicrotask(() => {
      if (!blocked || full() || terminal()) return
      blocked = false
      handlers?.onDrain()
    })
  }

  return {
    send: (chunk) => {
      const more = stream.send(chunk)
      if (more && !full()) return true
      blocked = true
      return false
    },
    get needsDrain() {
      return blocked
    },
    pause: () => {
      paused = true
      if (!streamPaused && !terminal() && stream.readableEnded === false) {
        streamPaused = true
        safely(() => stream.pause())
      }
    },
    resume: () => {
      paused = false
      deliver()
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
      // A send before start (the first bytes behind a flow header) may have stopped, and drained meanwhile.
      maybeDrained()
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
