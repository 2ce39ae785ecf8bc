import type net from 'node:net'
import { encodeFlowHeader } from '../flow/flow-header.ts'
import { createFlowResponseDecoder } from '../flow/flow-response.ts'
import type { FlowHeader, FlowResult } from '../flow/flow-types.ts'
import { readSocketPrefix } from './read-socket-prefix.ts'

/**
 * Start a flow on a proven fast socket: write the header now (the caller's payload may follow at once, as on a
 * libp2p stream) and resolve with the exit's response, the first 2 bytes back. Bytes after it stay on the socket,
 * which is left paused for the splice. Rejects with FlowProtocolError (`bad-header` when the socket ended first,
 * `connect-timeout` when the signal fired first).
 */
export function openFastFlow(
  socket: net.Socket,
  header: FlowHeader,
  options: { signal: AbortSignal },
): Promise<FlowResult> {
  socket.write(encodeFlowHeader(header))
  return readSocketPrefix(socket, createFlowResponseDecoder(), 'connect-timeout', options)
}
