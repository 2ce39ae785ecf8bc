import type net from 'node:net'
import { FlowProtocolError, type FlowRefusal } from '../flow/flow-types.ts'
import type { PrefixDecoder } from '../flow/read-prefix.ts'

/**
 * `readPrefix` for a Node socket: read a prefix (a proof, a flow header, a flow response) and hand the socket back
 * paused and untouched: the bytes that followed the prefix are `unshift`ed, so the next reader sees them first.
 * Rejects with FlowProtocolError only: the decoder's own, `onAbort` when the signal fires, `bad-header` when the
 * socket ends or closes first.
 */
export function readSocketPrefix<T>(
  socket: net.Socket,
  decoder: PrefixDecoder<T>,
  onAbort: FlowRefusal,
  options: { signal?: AbortSignal },
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const signal = options.signal
    let settled = false
    const cleanup = (): void => {
      settled = true
      socket.pause()
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.off('close', onEnd)
      socket.off('error', onError)
      signal?.removeEventListener('abort', onAbortEvent)
    }
    const fail = (err: FlowProtocolError): void => {
      if (settled) return
      cleanup()
      reject(err)
    }
    const onData = (chunk: Buffer): void => {
      if (settled) return
      let value: T | null
      try {
        value = decoder.push(chunk)
      } catch (err) {
        fail(
          err instanceof FlowProtocolError
            ? err
            : new FlowProtocolError('bad-header', 'Cannot read the prefix as decoding failed', { cause: err }),
        )
        return
      }
      if (value === null) return
      cleanup()
      for (let i = decoder.remainder.length - 1; i >= 0; i--) socket.unshift(decoder.remainder[i]!)
      resolve(value)
    }
    const onEnd = (): void =>
      fail(new FlowProtocolError('bad-header', 'Cannot read the prefix as the socket ended first'))
    const onError = (err: Error): void =>
      fail(
        new FlowProtocolError('bad-header', `Cannot read the prefix as the socket failed: ${err.message}`, {
          cause: err,
        }),
      )
    const onAbortEvent = (): void =>
      fail(new FlowProtocolError(onAbort, `Cannot read the prefix as it did not arrive in time (${onAbort})`))
    if (signal?.aborted === true) {
      onAbortEvent()
      return
    }
    if (socket.destroyed || socket.readableEnded) {
      onEnd()
      return
    }
    signal?.addEventListener('abort', onAbortEvent, { once: true })
    socket.on('data', onData)
    socket.on('end', onEnd)
    socket.on('close', onEnd)
    socket.on('error', onError)
    socket.resume()
  })
}

/** A decoder of exactly `length` bytes (a proof). */
export function fixedDecoder(length: number): PrefixDecoder<Buffer> {
  const parts: Buffer[] = []
  let have = 0
  let done = false
  const remainder: Uint8Array[] = []
  return {
    remainder,
    push(chunk) {
      for (const part of chunk instanceof Uint8Array ? [chunk] : chunk) {
        if (done) {
          remainder.push(part)
          continue
        }
        const n = Math.min(length - have, part.length)
        parts.push(Buffer.from(part.buffer, part.byteOffset, n))
        have += n
        if (have === length) {
          done = true
          if (n < part.length) remainder.push(part.subarray(n))
        }
      }
      return done ? Buffer.concat(parts, length) : null
    },
  }
}
