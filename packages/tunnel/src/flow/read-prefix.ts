import type { AbortOptions, Stream } from '@libp2p/interface'
import { type FlowChunk, FlowProtocolError, type FlowRefusal } from './flow-types.ts'

export interface PrefixDecoder<T> {
  push(chunk: FlowChunk): T | null
  readonly remainder: readonly Uint8Array[]
}

/**
 * Read a prefix (flow header or response) off a libp2p v3 stream, then hand the stream back untouched: the bytes
 * that followed the prefix are `unshift`ed so the next reader (the splice) sees them first, in order.
 * Rejects with FlowProtocolError only: the decoder's own, `onAbort` when the signal fires (header-timeout on the
 * exit side), `bad-header` when the stream ends or resets first.
 */
export function readPrefix<T>(
  stream: Stream,
  decoder: PrefixDecoder<T>,
  onAbort: FlowRefusal,
  options: AbortOptions,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const signal = options.signal
    let settled = false
    const cleanup = (): void => {
      settled = true
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('remoteCloseWrite', onEnd)
      stream.removeEventListener('close', onEnd)
      signal?.removeEventListener('abort', onAbortEvent)
    }
    const fail = (err: FlowProtocolError): void => {
      if (settled) return
      cleanup()
      reject(err)
    }
    const onMessage = (evt: { data: FlowChunk }): void => {
      if (settled) return
      let value: T | null
      try {
        value = decoder.push(evt.data)
      } catch (err) {
        fail(
          err instanceof FlowProtocolError
            ? err
            : new FlowProtocolError('bad-header', 'Cannot read the flow prefix as decoding failed', { cause: err }),
        )
        return
      }
      if (value === null) return
      cleanup()
      // Put back what followed the prefix, last part first so `unshift` leaves them in wire order.
      for (let i = decoder.remainder.length - 1; i >= 0; i--) stream.unshift(decoder.remainder[i]!)
      resolve(value)
    }
    const onEnd = (): void => {
      fail(new FlowProtocolError('bad-header', 'Cannot read the flow prefix as the stream ended before it'))
    }
    const onAbortEvent = (): void => {
      fail(new FlowProtocolError(onAbort, `Cannot read the flow prefix as it did not arrive in time (${onAbort})`))
    }
    if (signal?.aborted === true) {
      onAbortEvent()
      return
    }
    signal?.addEventListener('abort', onAbortEvent, { once: true })
    stream.addEventListener('message', onMessage)
    stream.addEventListener('remoteCloseWrite', onEnd)
    stream.addEventListener('close', onEnd)
  })
}
