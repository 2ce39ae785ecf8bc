import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildNativeRelay } from '../native/build-native-relay.ts'
import { nativeRelay } from '../native/native-relay.ts'
import { nativeSpliceCounts, setNativeSplice } from '../native/native-splice.ts'
import { fastTransport } from '../testing/fast-transport.ts'
import { tcpFlowSuite } from '../testing/tcp-flow-suite.ts'

// The same suite again over the fast channel with sealed records (podlink-flow/2): flows whose sockets can be handed
// over are carried by the native relay (libpodlink-relay), the rest by SealedSocket in Node.
describe('proxyTcp + flow exit over the fast channel (sealed records, native relay)', () => {
  beforeAll(() => {
    buildNativeRelay()
  })
  it('has the native relay', () => {
    expect(nativeRelay()).not.toBeNull()
  })
  tcpFlowSuite(fastTransport({ sealed: true }), {
    bulkBytes: 64 * 1024 * 1024,
    maxTransportBuffered: 4 * 1024 * 1024,
    channel: 'fast',
  })
  it('carried flows natively', () => {
    expect(nativeSpliceCounts().carried).toBeGreaterThan(0)
  })
})

// And with the relay kept out: SealedSocket seals and opens every byte in Node (what a flow the relay cannot take
// rides: one whose side ended before the splice, or with writes still queued).
describe('proxyTcp + flow exit over the fast channel (sealed records, in Node)', () => {
  let before = 0
  beforeAll(() => {
    setNativeSplice(false)
    before = nativeSpliceCounts().carried
  })
  afterAll(() => setNativeSplice(true))
  tcpFlowSuite(fastTransport({ sealed: true }), {
    bulkBytes: 16 * 1024 * 1024,
    maxTransportBuffered: 4 * 1024 * 1024,
    channel: 'fast',
  })
  it('carried none natively', () => {
    expect(nativeSpliceCounts().carried).toBe(before)
  })
})
