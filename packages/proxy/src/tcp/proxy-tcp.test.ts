import { PodlinkError } from '@podlink/core'
import { describe, expect, it } from 'vitest'
import type { FlowStream, OpenFlowStream } from '../stream/flow-stream.ts'
import { tcpFlowSuite } from '../testing/tcp-flow-suite.ts'
import { closeCode, createLab, memoryTransport, POD, shortExchange } from '../testing/tcp-harness.ts'

describe('proxyTcp + flow exit over in-memory flow streams', () => {
  tcpFlowSuite(memoryTransport(), { bulkBytes: 64 * 1024 * 1024, maxTransportBuffered: 256 * 1024, channel: 'libp2p' })
})

describe('proxyTcp: a dead pooled channel (FLOW_CHANNEL_STALE)', () => {
  /** A flow stream on a channel that turned out dead: takes the first bytes, then its answer rejects. */
  const deadStream = (): FlowStream => ({
    send: () => true,
    needsDrain: false,
    pause: () => {},
    resume: () => {},
    closeWrite: () => {},
    abort: () => {},
    start: () => {},
  })
  const staleLab = (deadCalls: number) => {
    let calls = 0
    return createLab((timers) => {
      const inner = memoryTransport()(timers)
      return {
        ...inner,
        name: 'stale',
        async connect(exit, admit) {
          const open = await inner.connect(exit, admit)
          const wrapped: OpenFlowStream = async (peer, request, o) => {
            if (calls++ < deadCalls) {
              const answer = new Promise<never>((_, reject) =>
                setTimeout(() => reject(new PodlinkError('FLOW_CHANNEL_STALE', 'The fast socket was dead')), 1),
              )
              return { stream: deadStream(), answer }
            }
            return open(peer, request, o)
          }
          return wrapped
        },
      }
    })
  }

  it('tries the same endpoint once more, with the first bytes replayed', async () => {
    const lab = await staleLab(1)
    try {
      const { serverGot, clientGot, outcome: o } = await shortExchange(lab, { kind: 'pod', endpoint: POD })
      expect([serverGot, clientGot]).toEqual([11, 2])
      expect([o.attempts, o.error]).toEqual([2, null])
    } finally {
      await lab.close()
    }
  })

  it('only once: a second dead channel fails the flow (no endless retries)', async () => {
    const lab = await staleLab(5)
    try {
      const { client, outcome } = await lab.dial({ kind: 'pod', endpoint: POD })
      const code = closeCode(client)
      client.write('x')
      expect(await code).toBe('ECONNRESET')
      const o = await outcome
      expect(o.attempts).toBe(2)
      expect(o.error?.message).toMatch(/dead/)
    } finally {
      await lab.close()
    }
  })
})
