import { PodlinkError } from '@podlink/core'
import { nativeSplice } from '../native/native-splice.ts'
import type { FlowStream, FlowStreamHandlers, Timers } from './flow-stream.ts'

export interface SpliceOptions {
  readonly timers: Timers
  /** Both directions silent this long: both sides are reset. 0 turns it off. */
  readonly idleTimeoutMs: number
  /** `a` already ended before the splice (its FIN arrived while the flow was being set up). */
  readonly aEnded?: boolean
  /** Bytes already carried a -> b before the splice (the first bytes sent behind a flow header); counted. */
  readonly aToBBytes?: number
  /** False keeps the splice in Node even where the native relay could take it (tests). Default true. */
  readonly native?: boolean
}

export interface SpliceResult {
  readonly aToB: number
  readonly bToA: number
  /** Null when both directions ended cleanly; else what reset the flow (a side's error, idle timeout, abort). */
  readonly error: Error | null
}

export interface Splice {
  /** Live byte counters (FlowStatus reads them while the flow runs). */
  readonly aToB: number
  readonly bToA: number
  /** Resolves (never rejects) once both sides closed or one was reset. */
  readonly done: Promise<SpliceResult>
  /** Reset both sides now. */
  abort(err: Error): void
}

/**
 * Join two streams both ways until both ended. Guarantees:
 * - half-close is carried: `a`'s end becomes `b.closeWrite()` and the other direction keeps flowing;
 * - a reset is carried: either side closing with an error (or a clean close with a direction still open, which is a
 *   truncation) aborts the other with that error;
 * - backpressure end to end: a `send` that returns false pauses the source until the sink drains, so at most one
 *   chunk beyond each sink's own window is held;
 * - idle: when neither direction moved a byte for `idleTimeoutMs`, both are reset (PROXY_IDLE_TIMEOUT).
 */
export function splice(a: FlowStream, b: FlowStream, options: SpliceOptions): Splice {
  // A plain TCP socket and a sealed fast socket: the native relay carries them when it can (native-splice.ts).
  if (options.native !== false) {
    const native = nativeSplice(a, b, options)
    if (native !== null) return native
  }
  const { timers, idleTimeoutMs } = options
  let aToB = options.aToBBytes ?? 0
  let bToA = 0
  let abEnded = false
  let baEnded = false
  let aClosed = false
  let bClosed = false
  let finished = false
  let lastActivity = timers.now()
  let idleTimer: unknown = null
  let resolve!: (r: SpliceResult) => void
  const done = new Promise<SpliceResult>((r) => {
    resolve = r
  })

  const finish = (error: Error | null): void => {
    if (finished) return
    finished = true
    if (idleTimer !== null) timers.clearTimeout(idleTimer)
    if (error !== null) {
      a.abort(error)
      b.abort(error)
    }
    resolve({ aToB, bToA, error })
  }

  const armIdle = (ms: number): void => {
    idleTimer = timers.setTimeout(() => {
      const quiet = timers.now() - lastActivity
      if (quiet >= idleTimeoutMs) {
        finish(new PodlinkError('PROXY_IDLE_TIMEOUT', `Cannot keep the flow open as it was idle for ${quiet} ms`))
      } else armIdle(idleTimeoutMs - quiet)
    }, ms)
  }
  if (idleTimeoutMs > 0) armIdle(idleTimeoutMs)

  /** Handlers of `from`, which feeds `to`. */
  const direction = (from: FlowStream, to: FlowStream, isA: boolean): FlowStreamHandlers => ({
    onData(chunk) {
      if (finished) return
      lastActivity = timers.now()
      if (isA) aToB += chunk.length
      else bToA += chunk.length
      let more: boolean
      try {
        more = to.send(chunk)
      } catch (err) {
        finish(asError(err))
        return
      }
      if (!more) from.pause()
    },
    onEnd() {
      if (finished) return
      if (isA) abEnded = true
      else baEnded = true
      to.closeWrite()
    },
    // A drain of `from` means `to`'s data (the other direction) may flow into it again.
    onDrain() {
      if (!finished) to.resume()
    },
    onClose(error) {
      if (isA) aClosed = true
      else bClosed = true
      if (error !== undefined) finish(error)
      else if (!(abEnded && baEnded)) {
        finish(
          new PodlinkError('PROXY_TRUNCATED', 'Cannot finish the flow as one side closed with a direction still open'),
        )
      } else if (aClosed && bClosed) finish(null)
    },
  })

  // A source that can read into a buffer of its own reuses it when its sink kept nothing of the last chunk.
  // (A sink that cannot tell, a libp2p stream, keeps every chunk: no lending then, it would only add allocations.)
  if (b.holdsSent !== undefined) a.lendReads?.(() => b.holdsSent === false)
  if (a.holdsSent !== undefined) b.lendReads?.(() => a.holdsSent === false)
  a.start(direction(a, b, true))
  b.start(direction(b, a, false))
  if (options.aEnded === true) {
    abEnded = true
    b.closeWrite()
  }
  // A sink already full when the splice began (first bytes sent behind a flow header) holds its source until it drains.
  if (b.needsDrain) a.pause()

  return {
    get aToB() {
      return aToB
    },
    get bToA() {
      return bToA
    },
    done,
    abort: (err) => finish(err),
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
