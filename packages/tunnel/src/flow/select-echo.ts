import { chunkParts, type FlowChunk, FlowProtocolError } from './flow-types.ts'
import type { PrefixDecoder } from './read-prefix.ts'

const MSS_PROTOCOL = '/multistream/1.0.0'

/** One multistream-select line as it travels: varint length (of the text and its newline), text, newline. */
export function selectLine(text: string): Uint8Array {
  const body = new TextEncoder().encode(`${text}\n`)
  const len: number[] = []
  let n = body.length
  do {
    len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0))
    n >>>= 7
  } while (n > 0)
  const out = new Uint8Array(len.length + body.length)
  out.set(len)
  out.set(body, len.length)
  return out
}

/**
 * With optimistic protocol selection (`negotiateFully: false`) the opener did not wait for the listener's answer:
 * the listener's two lines (its multistream header and the protocol echoed back) arrive first on the stream. This
 * decoder checks them byte for byte, then hands what follows to `inner`. A listener that refuses the protocol
 * answers `na` instead: that is an error naming the protocol, not a garbled answer.
 */
export function selectEchoDecoder<T>(protocol: string, inner: PrefixDecoder<T>): PrefixDecoder<T> {
  const expected = new Uint8Array([...selectLine(MSS_PROTOCOL), ...selectLine(protocol)])
  const seen = new Uint8Array(expected.length)
  let have = 0
  return {
    get remainder() {
      return inner.remainder
    },
    push(chunk: FlowChunk): T | null {
      let result: T | null = null
      for (const part of chunkParts(chunk)) {
        let rest = part
        if (have < expected.length) {
          const n = Math.min(expected.length - have, part.length)
          seen.set(part.subarray(0, n), have)
          for (let i = have; i < have + n; i++) {
            if (seen[i] !== expected[i]) throw refused(protocol, seen.subarray(0, have + n))
          }
          have += n
          rest = part.subarray(n)
          if (rest.length === 0) continue
        }
        result = inner.push(rest) ?? result
      }
      return result
    },
  }
}

function refused(protocol: string, got: Uint8Array): FlowProtocolError {
  const header = selectLine(MSS_PROTOCOL)
  const text = new TextDecoder().decode(got.subarray(Math.min(got.length, header.length + 1))).trim()
  const answer = text === 'na' || text.startsWith('na') ? 'na (not supported)' : JSON.stringify(text.slice(0, 40))
  return new FlowProtocolError(
    'bad-header',
    `Cannot open the flow as the peer did not accept ${protocol} during protocol selection (it answered ${answer})`,
  )
}
