import { bytesToIp, ipToBytes } from '../net/ip-bytes.ts'
import {
  chunkParts,
  FLOW_VERSION,
  type FlowChunk,
  type FlowHeader,
  FlowProtocolError,
  MAX_FLOW_HEADER_BYTES,
  MAX_SERVICE_KEY_BYTES,
} from './flow-types.ts'

/*
 * Wire format of the flow header (big-endian), written by the sender as the first bytes of the stream and
 * followed at once by payload (no round trip):
 *
 *   u16  body length N (bytes after this field), 12 <= N <= 254
 *   u8   version (1)
 *   u8   protocol: 6 = tcp, 17 = udp
 *   u8   flags: bit 0 = service (dst is a Service endpoint); other bits must be 0
 *   u8   dst family 4|6, then 4|16 address bytes, then u16 port (1..65535)
 *   u8   src family 0 (absent)|4|6, then 0|4|16 address bytes
 *   u8   service key length K (<= 200), then K bytes of printable ASCII
 *
 * The body must be consumed exactly: trailing bytes inside N are a bad header, so two encoders can never disagree.
 */

const PROTO_TCP = 6
const PROTO_UDP = 17
const FLAG_SERVICE = 1
const MIN_BODY = 12

function bad(message: string): FlowProtocolError {
  return new FlowProtocolError('bad-header', `Cannot read the flow header as ${message}`)
}

function isPrintableAscii(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b < 0x21 || b > 0x7e) return false
  return true
}

/** Encode a header; throws FlowProtocolError `bad-header` for a header that could not be decoded again. */
export function encodeFlowHeader(header: FlowHeader): Uint8Array {
  const dst = ipToBytes(header.dst.ip)
  if (dst === null) throw bad(`the destination ${JSON.stringify(header.dst.ip)} is not an IP address`)
  if (!Number.isInteger(header.dst.port) || header.dst.port < 1 || header.dst.port > 65535) {
    throw bad(`the destination port ${header.dst.port} is out of range`)
  }
  const src = header.src === null ? new Uint8Array(0) : ipToBytes(header.src)
  if (src === null) throw bad(`the source ${JSON.stringify(header.src)} is not an IP address`)
  const key = new TextEncoder().encode(header.serviceKey)
  if (key.length > MAX_SERVICE_KEY_BYTES || !isPrintableAscii(key)) {
    throw bad(`the service key is not printable ASCII of at most ${MAX_SERVICE_KEY_BYTES} bytes`)
  }
  const body = 4 + dst.length + 2 + 1 + src.length + 1 + key.length
  const out = new Uint8Array(2 + body)
  const view = new DataView(out.buffer)
  let o = 0
  view.setUint16(o, body)
  o += 2
  out[o++] = FLOW_VERSION
  out[o++] = header.protocol === 'tcp' ? PROTO_TCP : PROTO_UDP
  out[o++] = header.service ? FLAG_SERVICE : 0
  out[o++] = dst.length === 4 ? 4 : 6
  out.set(dst, o)
  o += dst.length
  view.setUint16(o, header.dst.port)
  o += 2
  out[o++] = src.length === 0 ? 0 : src.length === 4 ? 4 : 6
  out.set(src, o)
  o += src.length
  out[o++] = key.length
  out.set(key, o)
  return out
}

/** Parse a complete body (everything after the length prefix). Throws FlowProtocolError only. */
function parseBody(body: Uint8Array): FlowHeader {
  let o = 1 // version already checked
  const need = (n: number, what: string): void => {
    if (o + n > body.length) throw bad(`it ends inside the ${what}`)
  }
  const proto = body[o++]
  if (proto !== PROTO_TCP && proto !== PROTO_UDP) throw bad(`protocol ${proto} is neither tcp (6) nor udp (17)`)
  const flags = body[o++]!
  if ((flags & ~FLAG_SERVICE) !== 0) throw bad(`flags 0x${flags.toString(16)} set unknown bits`)
  const dstFamily = body[o++]
  if (dstFamily !== 4 && dstFamily !== 6) throw bad(`destination family ${dstFamily} is neither 4 nor 6`)
  const dstLen = dstFamily === 4 ? 4 : 16
  need(dstLen + 2, 'destination')
  const dstIp = bytesToIp(body.subarray(o, o + dstLen))
  o += dstLen
  const port = (body[o]! << 8) | body[o + 1]!
  o += 2
  if (port === 0) throw bad('the destination port is 0')
  need(1, 'source family')
  const srcFamily = body[o++]
  if (srcFamily !== 0 && srcFamily !== 4 && srcFamily !== 6) throw bad(`source family ${srcFamily} is not 0, 4 or 6`)
  const srcLen = srcFamily === 0 ? 0 : srcFamily === 4 ? 4 : 16
  need(srcLen, 'source')
  const src = srcLen === 0 ? null : bytesToIp(body.subarray(o, o + srcLen))
  o += srcLen
  need(1, 'service key length')
  const keyLen = body[o++]!
  if (keyLen > MAX_SERVICE_KEY_BYTES) throw bad(`the service key length ${keyLen} exceeds ${MAX_SERVICE_KEY_BYTES}`)
  need(keyLen, 'service key')
  const keyBytes = body.subarray(o, o + keyLen)
  if (!isPrintableAscii(keyBytes)) throw bad('the service key is not printable ASCII')
  o += keyLen
  if (o !== body.length) throw bad(`${body.length - o} bytes trail the fields`)
  const service = (flags & FLAG_SERVICE) !== 0
  if (!service && keyLen > 0) throw bad('a service key is given without the service flag')
  return {
    protocol: proto === PROTO_TCP ? 'tcp' : 'udp',
    dst: { ip: dstIp, port },
    src,
    service,
    serviceKey: new TextDecoder().decode(keyBytes),
  }
}

export interface FlowHeaderDecoder {
  /**
   * Feed the next chunk. Returns the header once complete (then and afterwards), null while more bytes are needed.
   * Throws FlowProtocolError (`bad-header`, `unsupported-version`) and nothing else; once it threw it throws again.
   * Buffers at most MAX_FLOW_HEADER_BYTES; bytes after the header are kept, uncopied, in `remainder`.
   */
  push(chunk: FlowChunk): FlowHeader | null
  /** Bytes received after the header (payload the sender wrote behind it), in order. */
  readonly remainder: readonly Uint8Array[]
}

export function createFlowHeaderDecoder(): FlowHeaderDecoder {
  const buf = new Uint8Array(MAX_FLOW_HEADER_BYTES)
  let have = 0
  let total = 0 // 2 + body length, once known
  let header: FlowHeader | null = null
  let failure: FlowProtocolError | null = null
  const remainder: Uint8Array[] = []

  const fail = (err: unknown): never => {
    failure =
      err instanceof FlowProtocolError
        ? err
        : new FlowProtocolError('bad-header', 'Cannot read the flow header as the decoder failed', { cause: err })
    throw failure
  }

  const take = (part: Uint8Array): void => {
    let off = 0
    while (off < part.length && header === null) {
      const want = total === 0 ? (have < 2 ? 2 : 3) : total
      const n = Math.min(want - have, part.length - off)
      buf.set(part.subarray(off, off + n), have)
      have += n
      off += n
      if (have < want) return
      if (total === 0 && have === 2) {
        const body = (buf[0]! << 8) | buf[1]!
        if (body < MIN_BODY || body > MAX_FLOW_HEADER_BYTES - 2) {
          throw bad(`its length ${body} is outside ${MIN_BODY}..${MAX_FLOW_HEADER_BYTES - 2}`)
        }
        continue
      }
      if (total === 0 && have === 3) {
        // Refuse an unknown version before waiting for the rest of a header we could not parse anyway.
        if (buf[2] !== FLOW_VERSION) {
          throw new FlowProtocolError(
            'unsupported-version',
            `Cannot read the flow header as version ${buf[2]} is not ${FLOW_VERSION}`,
          )
        }
        total = 2 + ((buf[0]! << 8) | buf[1]!)
        continue
      }
      header = parseBody(buf.subarray(2, total))
    }
    if (off < part.length) remainder.push(off === 0 ? part : part.subarray(off))
  }

  return {
    remainder,
    push(chunk: FlowChunk): FlowHeader | null {
      if (failure !== null) throw failure
      try {
        for (const part of chunkParts(chunk)) {
          if (header !== null) remainder.push(part)
          else take(part)
        }
      } catch (err) {
        fail(err)
      }
      return header
    },
  }
}
