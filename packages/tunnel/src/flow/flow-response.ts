import {
  chunkParts,
  FLOW_REFUSALS,
  FLOW_VERSION,
  type FlowChunk,
  FlowProtocolError,
  type FlowResult,
} from './flow-types.ts'

/*
 * The exit side's answer: exactly 2 bytes, [version, code], code 0 = ok, n = FLOW_REFUSALS[n - 1].
 * It is always the first thing the exit writes on the stream: payload from the destination follows only after an ok,
 * and a refusal is followed by the close of the stream. So the sender can tell "refused" from "the pod said nothing".
 */
export const FLOW_RESPONSE_BYTES = 2

export function encodeFlowResponse(result: FlowResult): Uint8Array {
  const code = result.ok ? 0 : FLOW_REFUSALS.indexOf(result.reason) + 1
  return Uint8Array.of(FLOW_VERSION, code)
}

export interface FlowResponseDecoder {
  /** Feed a chunk; returns the result once 2 bytes arrived. Throws FlowProtocolError only. */
  push(chunk: FlowChunk): FlowResult | null
  readonly remainder: readonly Uint8Array[]
}

export function createFlowResponseDecoder(): FlowResponseDecoder {
  const head = new Uint8Array(FLOW_RESPONSE_BYTES)
  let have = 0
  let result: FlowResult | null = null
  const remainder: Uint8Array[] = []
  return {
    remainder,
    push(chunk: FlowChunk): FlowResult | null {
      for (const part of chunkParts(chunk)) {
        if (result !== null) {
          remainder.push(part)
          continue
        }
        const n = Math.min(FLOW_RESPONSE_BYTES - have, part.length)
        head.set(part.subarray(0, n), have)
        have += n
        if (have < FLOW_RESPONSE_BYTES) continue
        if (head[0] !== FLOW_VERSION) {
          throw new FlowProtocolError(
            'unsupported-version',
            `Cannot read the flow response as version ${head[0]} is not ${FLOW_VERSION}`,
          )
        }
        const code = head[1]!
        if (code === 0) result = { ok: true }
        else {
          const reason = FLOW_REFUSALS[code - 1]
          if (reason === undefined) {
            throw new FlowProtocolError('bad-header', `Cannot read the flow response as code ${code} is unknown`)
          }
          result = { ok: false, reason }
        }
        if (n < part.length) remainder.push(part.subarray(n))
      }
      return result
    },
  }
}
