import type { Stream } from '@libp2p/interface'
import { PodlinkError } from '@podlink/core'

const MAX_LINE = 16 * 1024

/** Newline-delimited JSON messages on a libp2p stream: the punch signalling's framing. */
export interface JsonLines {
  read(signal: AbortSignal): Promise<Record<string, unknown>>
  write(message: Record<string, unknown>): void
}

export function jsonLines(stream: Stream): JsonLines {
  const iterator = stream[Symbol.asyncIterator]()
  const decoder = new TextDecoder()
  let buffered = ''
  return {
    async read(signal) {
      for (;;) {
        const nl = buffered.indexOf('\n')
        if (nl >= 0) {
          const line = buffered.slice(0, nl)
          buffered = buffered.slice(nl + 1)
          return JSON.parse(line) as Record<string, unknown>
        }
        if (buffered.length > MAX_LINE)
          throw new PodlinkError('SIGNAL_PROTOCOL', 'Cannot read a signal as it is too long')
        signal.throwIfAborted()
        const next = await new Promise<IteratorResult<unknown>>((resolve, reject) => {
          const onAbort = (): void => reject(signal.reason)
          signal.addEventListener('abort', onAbort, { once: true })
          iterator.next().then(
            (r) => {
              signal.removeEventListener('abort', onAbort)
              resolve(r)
            },
            (err: unknown) => {
              signal.removeEventListener('abort', onAbort)
              reject(err)
            },
          )
        })
        if (next.done === true) throw new PodlinkError('SIGNAL_PROTOCOL', 'Cannot read a signal as the stream ended')
        const chunk = next.value as Uint8Array | { subarray(): Uint8Array }
        buffered += decoder.decode(chunk instanceof Uint8Array ? chunk : chunk.subarray(), { stream: true })
      }
    },
    write(message) {
      stream.send(new TextEncoder().encode(`${JSON.stringify(message)}\n`))
    },
  }
}

/** Half-close a signalling stream so the last message is read before the end; abort it when the peer is gone. */
export async function closeQuietly(stream: Stream): Promise<void> {
  try {
    await stream.close({ signal: AbortSignal.timeout(2_000) })
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  }
}
