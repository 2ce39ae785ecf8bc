import { describe } from 'vitest'
import { libp2pTransport } from '../testing/libp2p-transport.ts'
import { tcpFlowSuite } from '../testing/tcp-flow-suite.ts'

// The same suite as proxy-tcp.test.ts, over real libp2p streams (two tunnel nodes on loopback): proves the adapter.
describe('proxyTcp + flow exit over libp2p (tunnel nodes on loopback)', () => {
  // yamux grants up to 16 MiB to a stream that was read fast, and keeps it granted across a pause.
  tcpFlowSuite(libp2pTransport(), {
    bulkBytes: 64 * 1024 * 1024,
    maxTransportBuffered: 2 * 17 * 1024 * 1024,
    channel: 'libp2p',
  })
})
