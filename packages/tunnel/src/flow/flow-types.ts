import { type L4Protocol, PodlinkError } from '@podlink/core'

/** The libp2p protocol id of one proxied flow (one TCP connection or one UDP session per stream). */
export const FLOW_PROTOCOL = '/podlink/flow/1'
export const FLOW_VERSION = 1

/**
 * Whole header, length prefix included. The largest legal header (v6 dst + v6 src + key) is 46 B + key, so 256 B
 * leaves 210 B for the service key while bounding what a peer can make us buffer before any check runs.
 */
export const MAX_FLOW_HEADER_BYTES = 256
export const MAX_SERVICE_KEY_BYTES = 200

/** Why the exit side refused a flow. The wire code of each is fixed by its position in FLOW_REFUSALS (1-based). */
export type FlowRefusal =
  | 'not-my-pod'
  | 'not-an-endpoint'
  | 'forbidden-destination'
  | 'connect-failed'
  | 'connect-timeout'
  | 'too-many-flows'
  | 'bad-header'
  | 'header-timeout'
  | 'unsupported-version'

/** Append only: the index + 1 is the wire code, so reordering would change the protocol. */
export const FLOW_REFUSALS: readonly FlowRefusal[] = [
  'not-my-pod',
  'not-an-endpoint',
  'forbidden-destination',
  'connect-failed',
  'connect-timeout',
  'too-many-flows',
  'bad-header',
  'header-timeout',
  'unsupported-version',
]

export interface FlowEndpoint {
  /** Canonical text form (dotted quad, RFC 5952 IPv6). */
  readonly ip: string
  readonly port: number
}

export interface FlowHeader {
  readonly protocol: L4Protocol
  /** The original destination the client dialled (pod IP, or the Service endpoint the sender picked). */
  readonly dst: FlowEndpoint
  /** The client's address, for session affinity and logs; null when the sender withholds it. */
  readonly src: string | null
  /** True when `dst` is a Service endpoint chosen by the sender rather than a pod IP dialled directly. */
  readonly service: boolean
  /** `namespace/name:port` of the Service when `service` is set; '' otherwise. Printable ASCII, <= 200 B. */
  readonly serviceKey: string
}

export type FlowResult = { readonly ok: true } | { readonly ok: false; readonly reason: FlowRefusal }

/**
 * The only error the flow codecs and handler throw on purpose. `code` is `FLOW_` + the reason in upper snake case
 * (e.g. `FLOW_BAD_HEADER`), `reason` is the refusal to send back or report.
 */
export class FlowProtocolError extends PodlinkError {
  readonly reason: FlowRefusal

  constructor(reason: FlowRefusal, message: string, options?: { cause?: unknown }) {
    super(`FLOW_${reason.toUpperCase().replaceAll('-', '_')}`, message, options)
    this.name = 'FlowProtocolError'
    this.reason = reason
  }
}

/** Chunks as libp2p v3 streams deliver them: a Uint8Array or a Uint8ArrayList (iterable over its parts). */
export type FlowChunk = Uint8Array | { readonly byteLength: number; [Symbol.iterator](): Iterator<Uint8Array> }

export function* chunkParts(chunk: FlowChunk): Generator<Uint8Array> {
  if (chunk instanceof Uint8Array) yield chunk
  else yield* chunk
}
