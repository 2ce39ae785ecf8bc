import type net from 'node:net'
import type tls from 'node:tls'
import { generateKeyPair } from '@libp2p/crypto/keys'
import {
  createDatagramDecoder,
  createFlowHandler,
  dialFast,
  encodeDatagram,
  type FastServer,
  FlowProtocolError,
  fastCredentials,
  openFastFlow,
  rstClose,
  startFastServer,
} from '@podlink/tunnel'
import type { OpenFlowStream } from '../stream/flow-stream.ts'
import { socketFlowStream } from '../stream/socket-flow-stream.ts'
import { createFlowExit } from '../tcp/flow-exit.ts'
import type { ManualTimers } from './manual-timers.ts'
import type { Transport } from './tcp-harness.ts'

/**
 * The fast channel on loopback: one TLS 1.3 socket per flow between two identities, PSK proven, as the agent uses it.
 * - sender: `dialFast` + `openFastFlow`, the socket wrapped by `socketFlowStream`;
 * - exit: `startFastServer` hands each socket to `createFlowHandler().handleSocket`, whose socket exit is
 *   `createFlowExit({ adapt: socketFlowStream })`.
 * Tests only (it imports the tunnel, which the proxy itself must not).
 */
export function fastTransport(options: { sealed?: boolean } = {}): (timers: ManualTimers) => Transport {
  const sealed = options.sealed ?? false
  return () => {
    const sockets: tls.TLSSocket[] = []
    let server: FastServer | null = null
    return {
      name: sealed ? 'fast-sealed' : 'fast',
      async connect(exitDeps) {
        const psk = new Uint8Array(32).fill(7)
        const a = await fastCredentials(await generateKeyPair('Ed25519'), psk, { sealed })
        const b = await fastCredentials(await generateKeyPair('Ed25519'), psk, { sealed })
        const exit = createFlowExit<net.Socket>({
          ...exitDeps,
          channel: 'fast',
          adapt: (s) => socketFlowStream(s, { reset: rstClose }),
          framing: { encode: encodeDatagram, createDecoder: createDatagramDecoder },
          refusal: (reason, message, cause) => new FlowProtocolError(reason, message, { cause }),
        })
        const handler = createFlowHandler(
          { policy: () => ({ ownPodCIDRs: ['10.244.3.0/24'], servedEndpoints: new Set(), forbidden: [] }) },
          { exit: { connect: () => Promise.reject(new Error('no libp2p here')) }, socketExit: exit },
        )
        server = await startFastServer(
          { host: '127.0.0.1', port: 0, credentials: b, isMember: (p) => p === a.peerId },
          (socket, peer) => {
            sockets.push(socket)
            void handler.handleSocket(socket, peer)
          },
        )
        const port = server.port
        const open: OpenFlowStream = async (_peer, request, { signal }) => {
          const socket = await dialFast({ host: '127.0.0.1', port, peer: b.peerId, credentials: a, signal })
          sockets.push(socket)
          return {
            stream: socketFlowStream(socket, { reset: rstClose }),
            answer: openFastFlow(socket, request, { signal }),
            channel: 'fast',
          }
        }
        return open
      },
      buffered: () => sockets.reduce((n, s) => n + s.writableLength + s.readableLength, 0),
      async close() {
        for (const s of sockets) s.destroy()
        await server?.close()
      },
    }
  }
}
