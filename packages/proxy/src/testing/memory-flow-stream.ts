import { PodlinkError } from '@podlink/core'
import type { FlowStream, FlowStreamHandlers } from '../stream/flow-stream.ts'

export interface MemoryFlowStreamOptions {
  /** Unread bytes at the receiver past which `send` returns false (a muxer's window). Default 64 KiB. */
  readonly window?: number
  /**
   * Unread bytes at which the receiver resets the stream, as libp2p does past maxReadBufferLength. A sender that
   * ignores `send() === false` hits it, so a test of backpressure cannot pass by buffering. Default 16 x window.
   */
  readonly hardLimit?: number
}

export interface MemoryFlowStream extends FlowStream {
  /** Bytes sent to this end and not yet delivered to its handlers. */
  readonly unread: number
  /** Most unread bytes ever held at this end. */
  readonly maxUnread: number
  readonly paused: boolean
  readonly status: 'open' | 'closed' | 'reset'
}

interface End extends MemoryFlowStream {
  peer: End
  inbox: Uint8Array[]
  unreadBytes: number
  writeClosed: boolean
  remoteEnded: boolean
  endDelivered: boolean
  handlers: FlowStreamHandlers | null
  state: 'open' | 'closed' | 'reset'
  isPaused: boolean
  drainWanted: boolean
  peak: number
  scheduled: boolean
  deliver(): void
  schedule(): void
  finish(err: Error | undefined): void
  maybeClosed(): void
}

/**
 * Two FlowStreams joined in memory, with a window and the libp2p semantics the proxy relies on: delivery on a later
 * macrotask, pause holds data, `end` only after every byte, `abort` resets both ends.
 */
export function memoryFlowStreamPair(options: MemoryFlowStreamOptions = {}): [MemoryFlowStream, MemoryFlowStream] {
  const window = options.window ?? 64 * 1024
  const hardLimit = options.hardLimit ?? 16 * window
  const a = makeEnd(window, hardLimit)
  const b = makeEnd(window, hardLimit)
  a.peer = b
  b.peer = a
  return [a, b]
}

function makeEnd(window: number, hardLimit: number): End {
  const end: End = {
    peer: undefined as unknown as End,
    inbox: [],
    unreadBytes: 0,
    writeClosed: false,
    remoteEnded: false,
    endDelivered: false,
    handlers: null,
    state: 'open',
    isPaused: false,
    drainWanted: false,
    peak: 0,
    scheduled: false,
    get unread() {
      return end.unreadBytes
    },
    get maxUnread() {
      return end.peak
    },
    get paused() {
      return end.isPaused
    },
    get status() {
      return end.state
    },
    get needsDrain() {
      return end.drainWanted
    },
    send(chunk) {
      if (end.state !== 'open' || end.writeClosed) {
        throw new PodlinkError(
          'PROXY_STREAM_CLOSED',
          `Cannot send on a memory stream as it is ${end.state === 'open' ? 'closed for writing' : end.state}`,
        )
      }
      const peer = end.peer
      if (chunk.length === 0) return !end.drainWanted
      peer.inbox.push(chunk)
      peer.unreadBytes += chunk.length
      peer.peak = Math.max(peer.peak, peer.unreadBytes)
      if (peer.unreadBytes > hardLimit) {
        const err = new PodlinkError(
          'PROXY_BUFFER_OVERFLOW',
          `Cannot buffer ${peer.unreadBytes} bytes as the limit is ${hardLimit}`,
        )
        end.abort(err)
        throw err
      }
      peer.schedule()
      if (peer.unreadBytes >= window) end.drainWanted = true
      return !end.drainWanted
    },
    pause() {
      end.isPaused = true
    },
    resume() {
      end.isPaused = false
      end.schedule()
    },
    closeWrite() {
      if (end.writeClosed || end.state !== 'open') return
      end.writeClosed = true
      end.peer.remoteEnded = true
      end.peer.schedule()
      end.maybeClosed()
    },
    abort(err) {
      if (end.state !== 'open') return
      end.finish(err)
      end.peer.finish(
        new PodlinkError('PROXY_STREAM_RESET', 'Cannot read the memory stream as the remote reset it', { cause: err }),
      )
    },
    start(h) {
      end.handlers = h
      end.schedule()
      if (end.state !== 'open') {
        const err =
          end.state === 'reset'
            ? new PodlinkError('PROXY_STREAM_RESET', 'Cannot read the memory stream as it was reset')
            : undefined
        setImmediate(() => end.handlers?.onClose(err))
      }
    },
    schedule() {
      if (end.scheduled || end.state !== 'open') return
      end.scheduled = true
      setImmediate(() => {
        end.scheduled = false
        end.deliver()
      })
    },
    deliver() {
      const h = end.handlers
      if (h === null || end.state !== 'open') return
      while (!end.isPaused && end.inbox.length > 0 && end.state === 'open') {
        const chunk = end.inbox.shift()!
        end.unreadBytes -= chunk.length
        h.onData(chunk)
      }
      const sender = end.peer
      if (sender.drainWanted && end.unreadBytes < window && sender.state === 'open') {
        sender.drainWanted = false
        setImmediate(() => sender.handlers?.onDrain())
      }
      if (end.state !== 'open') return
      if (end.inbox.length === 0 && end.remoteEnded && !end.endDelivered) {
        end.endDelivered = true
        h.onEnd()
        end.maybeClosed()
      }
    },
    finish(err) {
      if (end.state !== 'open') return
      end.state = err === undefined ? 'closed' : 'reset'
      end.inbox = []
      end.unreadBytes = 0
      setImmediate(() => end.handlers?.onClose(err))
    },
    maybeClosed() {
      // Both directions ended and delivered: both ends close cleanly, as yamux closes a stream after both FINs.
      const p = end.peer
      if (end.writeClosed && p.writeClosed && end.endDelivered && p.endDelivered) {
        end.finish(undefined)
        p.finish(undefined)
      }
    },
  }
  return end
}
