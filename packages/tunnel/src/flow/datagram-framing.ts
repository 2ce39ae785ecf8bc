import { chunkParts, type FlowChunk, FlowProtocolError } from './flow-types.ts'

/** UDP over a flow stream: each datagram is a u16 big-endian length followed by that many payload bytes. */
export const MAX_DATAGRAM_BYTES = 65535

export function encodeDatagram(payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_DATAGRAM_BYTES) {
    throw new FlowProtocolError(
      'bad-header',
      `Cannot frame a datagram as its ${payload.length} bytes exceed ${MAX_DATAGRAM_BYTES}`,
    )
  }
  const out = new Uint8Array(2 + payload.length)
  out[0] = payload.length >> 8
  out[1] = payload.length & 0xff
  out.set(payload, 2)
  return out
}

export interface DatagramDecoder {
  /** Feed a chunk, get the datagrams it completed (possibly none). Holds at most one partial datagram. */
  push(chunk: FlowChunk): Uint8Array[]
  /** Bytes of an unfinished datagram; non-zero at end of stream means the sender was cut off mid-datagram. */
  readonly pendingBytes: number
}

export function createDatagramDecoder(): DatagramDecoder {
  let lenBytes = 0
  let len = 0
  let body: Uint8Array | null = null
  let filled = 0
  return {
    get pendingBytes() {
      return lenBytes + filled
    },
    push(chunk: FlowChunk): Uint8Array[] {
      const out: Uint8Array[] = []
      for (const part of chunkParts(chunk)) {
        let off = 0
        while (off < part.length) {
          if (body === null) {
            len = (len << 8) | part[off++]!
            lenBytes++
            if (lenBytes < 2) continue
            body = new Uint8Array(len)
            filled = 0
            lenBytes = 0
          }
          const n = Math.min(body.length - filled, part.length - off)
          body.set(part.subarray(off, off + n), filled)
          filled += n
          off += n
          if (filled === body.length) {
            out.push(body)
            body = null
            len = 0
            filled = 0
          }
        }
      }
      return out
    },
  }
}
