import type { AbortOptions, Connection, Stream } from '@libp2p/interface'
import { encodeFlowHeader } from './flow-header.ts'
import { createFlowResponseDecoder } from './flow-response.ts'
import { FLOW_PROTOCOL, type FlowHeader, type FlowResult } from './flow-types.ts'
import { readPrefix } from './read-prefix.ts'

/**
 * Open a flow stream and write its header. The caller writes payload (raw TCP bytes, or `encodeDatagram` frames)
 * right away, without waiting for the response: the exit buffers it until it dialled the destination.
 * Rejects with the libp2p error when the stream cannot be opened (no such protocol, connection closed, aborted).
 */
export async function openFlow(connection: Connection, header: FlowHeader, options: AbortOptions): Promise<Stream> {
  const bytes = encodeFlowHeader(header)
  const stream = await connection.newStream(FLOW_PROTOCOL, options)
  stream.send(bytes)
  return stream
}

/**
 * Read the exit's response: the first 2 bytes back. Bytes after it are the destination's and stay on the stream
 * for the next reader. Rejects with FlowProtocolError (`bad-header` when the stream ended first,
 * `connect-timeout` when the signal fired first).
 */
export function readFlowResponse(stream: Stream, options: AbortOptions): Promise<FlowResult> {
  return readPrefix(stream, createFlowResponseDecoder(), 'connect-timeout', options)
}
