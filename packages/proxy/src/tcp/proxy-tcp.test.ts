import { describe } from 'vitest'
import { tcpFlowSuite } from '../testing/tcp-flow-suite.ts'
import { memoryTransport } from '../testing/tcp-harness.ts'

describe('proxyTcp + flow exit over in-memory flow streams', () => {
  tcpFlowSuite(memoryTransport(), { bulkBytes: 64 * 1024 * 1024, maxTransportBuffered: 256 * 1024 })
})
