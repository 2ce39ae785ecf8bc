import type { HandOff, PlainHandOff, SealedHandOff } from '@podlink/core'
import { PodlinkError } from '@podlink/core'
import type { FlowStream } from '../stream/flow-stream.ts'
import type { Splice, SpliceOptions, SpliceResult } from '../stream/splice.ts'
import { type NativeEnd, nativeRelay } from './native-relay.ts'

let enabled = true
/** Tests: keep every splice in Node (the sealed channel's JS path), or let the relay take them again. */
export function setNativeSplice(on: boolean): void {
  enabled = on
}

let carried = 0
let declined = 0
/** Splices the native relay took, and those it could not (a side ended, writes queued, no relay): for tests. */
export function nativeSpliceCounts(): { carried: number; declined: number } {
  return { carried, declined }
}

function errorOf(how: NativeEnd, aborted: Error | null): Error | null {
  switch (how) {
    case 'clean':
      return null
    case 'reset-plain':
      return new PodlinkError('PROXY_RESET', 'The flow was reset on the plain side (the client or the pod)')
    case 'reset-sealed':
      return new PodlinkError('PROXY_RESET', 'The flow was reset on the fast socket (the peer agent or the path)')
    case 'truncated':
      return new PodlinkError(
        'PROXY_TRUNCATED',
        'Cannot finish the flow as the fast socket ended without an end record',
      )
    case 'bad-record':
      return new PodlinkError('FAST_BAD_RECORD', 'A record on the fast socket was malformed or failed authentication')
    case 'idle':
      return new PodlinkError('PROXY_IDLE_TIMEOUT', 'Cannot keep the flow open as it was idle for its limit')
    default:
      return aborted ?? new PodlinkError('PROXY_ABORTED', 'The flow was aborted')
  }
}

/**
 * The splice of a plain TCP socket and a sealed fast socket, carried by the native relay (native-relay.ts); the
 * same guarantees as `splice` (half-close, resets carried, backpressure, idle). Null when it cannot take the pair:
 * then nothing changed and the caller splices in Node.
 */
export function nativeSplice(a: FlowStream, b: FlowStream, options: SpliceOptions): Splice | null {
  const relay = nativeRelay()
  if (!enabled || relay === null || options.aEnded === true || a.handOff === undefined || b.handOff === undefined)
    return null
  const kinds = [a.handOffKind?.(), b.handOffKind?.()]
  // The relay joins a plain socket and a sealed one; anything else (two plain sockets, a TLS one) stays in Node.
  if (!kinds.includes('plain') || !kinds.includes('sealed')) return null
  const ha = a.handOff()
  if (ha === null) {
    declined++
    return null
  }
  const hb = b.handOff()
  if (hb === null || hb.kind === ha.kind) {
    hb?.undo()
    ha.undo()
    declined++
    return null
  }
  const plain = (ha.kind === 'plain' ? ha : hb) as PlainHandOff
  const sealed = (ha.kind === 'sealed' ? ha : hb) as SealedHandOff
  const flow = relay.add({
    plainFd: plain.fd,
    sealedFd: sealed.fd,
    keys: sealed.keys,
    sealSeq: sealed.sealSeq,
    openSeq: sealed.openSeq,
    toSealed: plain.pending,
    toPlain: sealed.pending,
    sealedPartial: sealed.partial,
    // Idle is kept here, on the splice's own timers (tests inject a clock), from the relay's counts.
    idleMs: 0,
  })
  if (flow === null) {
    hb.undo()
    ha.undo()
    declined++
    return null
  }
  carried++
  const plainIsA = ha.kind === 'plain'
  const base = options.aToBBytes ?? 0
  const directed = (c: { toSealed: number; toPlain: number }): { aToB: number; bToA: number } =>
    plainIsA ? { aToB: base + c.toSealed, bToA: c.toPlain } : { aToB: base + c.toPlain, bToA: c.toSealed }
  let aborted: Error | null = null
  const abort = (err: Error): void => {
    aborted ??= err
    flow.abort()
  }
  for (const h of [ha, hb] as HandOff[])
    h.onLost(() =>
      abort(new PodlinkError('PROXY_ABORTED', 'The flow was dropped (its socket was closed by the agent)')),
    )
  // Idle: the relay's counts are looked at once per idleTimeoutMs; unchanged since the last look is idle. So a quiet
  // flow is reset between one and two limits after its last byte (the relay does not tell Node of each read).
  const { timers, idleTimeoutMs } = options
  let idleTimer: unknown = null
  let seen = -1
  const look = (): void => {
    const c = flow.counts()
    const now = c.toSealed + c.toPlain
    if (now === seen) {
      abort(new PodlinkError('PROXY_IDLE_TIMEOUT', `Cannot keep the flow open as it was idle for ${idleTimeoutMs} ms`))
      return
    }
    seen = now
    idleTimer = timers.setTimeout(look, idleTimeoutMs)
  }
  if (idleTimeoutMs > 0) look()
  const done = flow.done.then((r): SpliceResult => {
    if (idleTimer !== null) timers.clearTimeout(idleTimer)
    ha.release()
    hb.release()
    return { ...directed({ toSealed: r.toSealed, toPlain: r.toPlain }), error: errorOf(r.how, aborted) }
  })
  return {
    get aToB() {
      return directed(flow.counts()).aToB
    },
    get bToA() {
      return directed(flow.counts()).bToA
    },
    done,
    abort,
  }
}
