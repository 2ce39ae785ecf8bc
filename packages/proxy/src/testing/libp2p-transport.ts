import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import {
  createDatagramDecoder,
  createFlowHandler,
  createTunnelNode,
  encodeDatagram,
  FLOW_PROTOCOL,
  FlowProtocolError,
  openFlow,
  readFlowResponse,
  type TunnelNode,
} from '@podlink/tunnel'
import type { OpenFlowStream } from '../stream/flow-stream.ts'
import { messageStreamFlowStream } from '../stream/message-stream-flow-stream.ts'
import { createFlowExit } from '../tcp/flow-exit.ts'
import type { ManualTimers } from './manual-timers.ts'
import type { Transport } from './tcp-harness.ts'

/**
 * Two real tunnel nodes on loopback (TCP + TLS + yamux). This file is the adapter the agent uses, and the contract
 * test proves it:
 * - sender: `openFlow` + `readFlowResponse`, the stream wrapped by `messageStreamFlowStream`;
 * - exit: `createFlowHandler` whose exit is `createFlowExit({ adapt: messageStreamFlowStream, framing, refusal })`.
 * Tests only (it imports the tunnel, which the proxy itself must not).
 */
export function libp2pTransport(): (timers: ManualTimers) => Transport {
  return () => {
    const nodes: TunnelNode[] = []
    const streams: Stream[] = []
    return {
      name: 'libp2p',
      async connect(exitDeps, admit) {
        const base = { listen: ['/ip4/127.0.0.1/tcp/0'], publicRanges: ['127.0.0.0/8'] }
        const a = await createTunnelNode(base, { privateKey: await generateKeyPair('Ed25519') })
        const b = await createTunnelNode(base, { privateKey: await generateKeyPair('Ed25519') })
        nodes.push(a, b)
        await a.setMembers([b.peerId])
        await b.setMembers([a.peerId])
        const exit = createFlowExit<Stream>({
          ...exitDeps,
          adapt: (s) => {
            streams.push(s)
            return messageStreamFlowStream(s)
          },
          framing: { encode: encodeDatagram, createDecoder: createDatagramDecoder },
          refusal: (reason, message, cause) => new FlowProtocolError(reason, message, { cause }),
        })
        const handler = createFlowHandler(
          {
            // The harness's pods live at 10.244.3.0/24; the exit's connector maps them to loopback servers.
            policy: () => ({ ownPodCIDRs: ['10.244.3.0/24'], servedEndpoints: new Set(), forbidden: [] }),
          },
          { exit },
        )
        // Every agent both sends and exits, so both register the protocol; its stream limits apply to both
        // directions, and libp2p's default (64 outbound streams per protocol) would refuse the 65th concurrent flow.
        const limits = { maxInboundStreams: 4096, maxOutboundStreams: 4096 }
        await b.libp2p.handle(FLOW_PROTOCOL, (stream, connection) => handler.handle(stream, connection), limits)
        await a.libp2p.handle(FLOW_PROTOCOL, (stream) => stream.abort(new Error('not an exit in this test')), limits)
        void admit
        const connection = await a.libp2p.dial(b.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5000) })
        const open: OpenFlowStream = async (_peer, request, { signal }) => {
          const stream = await openFlow(connection, request, { signal })
          streams.push(stream)
          return {
            stream: messageStreamFlowStream(stream),
            answer: readFlowResponse(stream, { signal }),
            channel: 'libp2p',
          }
        }
        return open
      },
      buffered: () => streams.reduce((n, s) => n + s.readBufferLength + s.writeBufferLength, 0),
      async close() {
        await Promise.all(nodes.map((n) => n.stop()))
      },
    }
  }
}
