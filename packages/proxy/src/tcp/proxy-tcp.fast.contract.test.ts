import { describe } from 'vitest'
import { fastTransport } from '../testing/fast-transport.ts'
import { tcpFlowSuite } from '../testing/tcp-flow-suite.ts'

// The same suite as proxy-tcp.test.ts, over the fast channel (one TLS 1.3 socket per flow, PSK proven, on loopback).
describe('proxyTcp + flow exit over the fast channel (TLS sockets on loopback)', () => {
  // Each end's socket buffers (kernel send/receive queues are not counted, only Node's own).
  tcpFlowSuite(fastTransport(), { bulkBytes: 64 * 1024 * 1024, maxTransportBuffered: 4 * 1024 * 1024, channel: 'fast' })
})
