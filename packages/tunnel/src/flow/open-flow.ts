import type { AbortOptions, Connection, Stream } from '@libp2p/interface'
import { encodeFlowHeader } from './flow-header.ts'
import { createFlowResponseDecoder } from './flow-response.ts'
import { FLOW_PROTOCOL, type FlowHeader, type FlowResult } from './flow-types.ts'
import { readPrefix } from './read-prefix.ts'
import { selectEchoDecoder } from './select-echo.ts'

/** Streams opened optimistically: the listener's protocol-selection answer precedes the flow response on them. */
const optimistic = new WeakSet<Stream>()

/**
 * Open a flow stream and write its header. The caller writes payload (raw TCP bytes, or `encodeDatagram` frames)
 * right away, without waiting for the response: the exit buffers it until it dialled the destination.
 * Protocol selection is optimistic (patches/@libp2p__multistream-select): the selection lines, the header and the
 * first payload leave together, so a new flow costs no round trip before its first byte; `readFlowResponse` checks
 * the listener's selection answer ahead of the flow response.
 * Rejects with the libp2p error when the stream cannot be opened (connection closed, aborted).
 */
export async function openFlow(connection: Connection, header: FlowHeader, options: AbortOptions): Promise<Stream> {
  const bytes = encodeFlowHeader(header)
  const stream = await connection.newStream(FLOW_PROTOCOL, { ...options, negotiateFully: false })
  optimistic.add(stream)
  stream.send(bytes)
  return stream
}

/**
 * Read the exit's response: the first 2 bytes back. Bytes after it are the destination's and stay on the stream
 * for the next reader. Rejects with FlowProtocolError (`bad-header` when the stream ended first,
 * `connect-timeout` when the signal fired first).
 */
export function readFlowResponse(stream: Stream, options: AbortOptions): Promise<FlowResult> {
  const decoder = createFlowResponseDecoder()
  return readPrefix(
    stream,
    optimistic.has(stream) ? selectEchoDecoder(FLOW_PROTOCOL, decoder) : decoder,
    'connect-timeout',
    options,
  )
}
