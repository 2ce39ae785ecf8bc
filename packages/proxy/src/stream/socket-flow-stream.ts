import type net from 'node:net'
import type { FlowStream, FlowStreamHandlers } from './flow-stream.ts'
import { lendReads } from './lend-reads.ts'

/**
 * Write coalescing on TCP sinks. A TLS socket hands what it decrypted to JS one record (16 KiB at most) at a time, so
 * each 64 KiB of ciphertext read became up to four writes to the pod's socket, each a syscall and a trip of its own
 * through the pod's veth. Chunks of COALESCE_MIN..COALESCE_MAX_CHUNK bytes (and any chunk behind them) are copied
 * into one buffer and written together once the event loop has delivered what this turn read (setImmediate):
 * 454 -> 532 MB/s and 2.84 -> 2.52 CPU-s per GB on the direct path in an A/B of 8 runs each. A chunk smaller than
 * COALESCE_MIN with no batch pending is written at once: a request/response never waits for the next turn.
 * PODLINK_COALESCE=0 on the agent turns it off.
 */
const COALESCE_MIN = 8 * 1024
const COALESCE_MAX_CHUNK = 16 * 1024
const COALESCE_BATCH = 64 * 1024

/**
 * Batch buffers, shared by every socket: one is taken when a batch starts and given back once its write completed,
 * so an idle flow holds none, and bulk flows do not allocate one per turn (array-buffer allocations are what drove
 * V8 into full collections under bulk traffic, see lendReads).
 */
const spareBatches: Buffer[] = []
const MAX_SPARE_BATCHES = 64
const takeBatch = (): Buffer => spareBatches.pop() ?? Buffer.allocUnsafeSlow(COALESCE_BATCH)
const giveBackBatch = (b: Buffer): void => {
  if (spareBatches.length < MAX_SPARE_BATCHES) spareBatches.push(b)
}

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

  const coalescing =
    process.env['PODLINK_COALESCE'] !== '0' && (socket as net.Socket & { encrypted?: boolean }).encrypted !== true
  let batch: Buffer | null = null
  let batchLen = 0
  let flushQueued = false
  /** Writes the pending batch (if any); its buffer goes back to the spares once the socket is done with it. */
  const flush = (): void => {
    const buffer = batch
    const length = batchLen
    batch = null
    batchLen = 0
    if (buffer === null) return
    if (socket.destroyed || socket.writableEnded || length === 0) {
      giveBackBatch(buffer)
      return
    }
    socket.write(buffer.subarray(0, length), () => giveBackBatch(buffer))
  }
  const flushTurn = (): void => {
    flushQueued = false
    flush()
  }
  const send = (chunk: Uint8Array): boolean => {
    const batchable = coalescing && chunk.length <= COALESCE_MAX_CHUNK
    if (!batchable || (batch === null && chunk.length < COALESCE_MIN)) {
      if (batch !== null) flush() // what came before goes first
      return socket.write(chunk)
    }
    if (batch !== null && batchLen + chunk.length > COALESCE_BATCH) flush()
    if (batch === null) batch = takeBatch()
    batch.set(chunk, batchLen)
    batchLen += chunk.length
    if (!flushQueued) {
      flushQueued = true
      setImmediate(flushTurn)
    }
    return !socket.writableNeedDrain
  }

  const listen = (): void => {
    listening = true
    socket.on('data', (chunk: Buffer) => {
      handlers?.onData(chunk)
      // A bulk flow reads into a lent buffer from here on (what is already buffered still comes as 'data', first).
      // Short flows never switch: a 64 KiB buffer per socket would cost churn more than Node's right-sized reads.
      read += chunk.length
      if (lend !== null && !lent && read >= LEND_AFTER_BYTES) lent = lendReads(socket, lentChunk, lend)
    })
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
    send,
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
      lend = mayReuse
    },
    get needsDrain() {
      return socket.writableNeedDrain
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    closeWrite: () => {
      flush()
      if (!socket.destroyed && !socket.writableEnded) socket.end()
    },
    abort: (err) => {
      error ??= err
      if (batch !== null) giveBackBatch(batch)
      batch = null
      batchLen = 0
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
