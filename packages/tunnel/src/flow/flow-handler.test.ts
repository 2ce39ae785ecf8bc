import type { Connection, Stream } from '@libp2p/interface'
import { streamPair } from '@libp2p/utils'
import { describe, expect, it } from 'vitest'
import { type ExitPolicy, endpointKey } from './check-exit.ts'
import { createFlowHandler, type FlowExit, type FlowSplice } from './flow-handler.ts'
import { encodeFlowHeader } from './flow-header.ts'
import { type FlowHeader, FlowProtocolError } from './flow-types.ts'
import { readFlowResponse } from './open-flow.ts'

const policy: ExitPolicy = {
  ownPodCIDRs: ['10.244.3.0/24'],
  servedEndpoints: new Set([endpointKey('tcp', '10.96.0.10', 53)]),
  forbidden: ['192.168.1.10'],
}
const conn = { remotePeer: { toString: () => '12D3KooWpeer' } } as unknown as Connection
const header: FlowHeader = {
  protocol: 'tcp',
  dst: { ip: '10.244.3.7', port: 80 },
  src: '10.244.1.5',
  service: false,
  serviceKey: '',
}

/** Echo splice: sends back whatever arrives until the sender half-closes, then half-closes too. */
const echo: FlowSplice = async (stream) => {
  for await (const chunk of stream) stream.send(chunk)
  await stream.close()
}
const echoExit: FlowExit = { connect: async () => echo }

async function collect(stream: Stream): Promise<number[]> {
  const out: number[] = []
  for await (const chunk of stream) out.push(...chunk.subarray())
  return out
}

describe('flow handler', () => {
  it('answers ok first, then the payload written right behind the header comes back', async () => {
    const [client, exitSide] = await streamPair()
    const handler = createFlowHandler({ policy: () => policy }, { exit: echoExit })
    const done = handler.handle(exitSide, conn)
    client.send(encodeFlowHeader(header))
    client.send(new Uint8Array([1, 2, 3]))
    await client.close()
    expect(await readFlowResponse(client, { signal: AbortSignal.timeout(2000) })).toEqual({ ok: true })
    expect(await collect(client)).toEqual([1, 2, 3])
    await done
    expect(handler.flowsOf('12D3KooWpeer')).toBe(0)
  })

  const refusals: Array<[string, FlowHeader, FlowExit, string]> = [
    ['not-my-pod', { ...header, dst: { ip: '10.244.9.9', port: 80 } }, echoExit, 'not-my-pod'],
    ['not-an-endpoint', { ...header, dst: { ip: '10.96.0.11', port: 53 }, service: true }, echoExit, 'not-an-endpoint'],
    [
      'forbidden (node address)',
      { ...header, dst: { ip: '192.168.1.10', port: 22 } },
      echoExit,
      'forbidden-destination',
    ],
    [
      'forbidden (metadata)',
      { ...header, dst: { ip: '169.254.169.254', port: 80 } },
      echoExit,
      'forbidden-destination',
    ],
    [
      'connect-failed (untyped error)',
      header,
      { connect: async () => Promise.reject(new Error('ECONNREFUSED')) },
      'connect-failed',
    ],
    [
      'connect-timeout (typed)',
      header,
      { connect: async () => Promise.reject(new FlowProtocolError('connect-timeout', 'Cannot connect as slow')) },
      'connect-timeout',
    ],
  ]
  it.each(refusals)('refuses %s with its reason and closes', async (_name, h, exit, reason) => {
    const [client, exitSide] = await streamPair()
    const handler = createFlowHandler({ policy: () => policy }, { exit })
    const done = handler.handle(exitSide, conn)
    client.send(encodeFlowHeader(h))
    client.send(new Uint8Array(1000))
    expect(await readFlowResponse(client, { signal: AbortSignal.timeout(2000) })).toEqual({ ok: false, reason })
    await done
    expect(handler.refusals()[reason as 'not-my-pod']).toBe(1)
  })

  it('refuses a slow header with header-timeout', async () => {
    const [client, exitSide] = await streamPair()
    const handler = createFlowHandler({ policy: () => policy, headerTimeoutMs: 100 }, { exit: echoExit })
    const done = handler.handle(exitSide, conn)
    client.send(encodeFlowHeader(header).subarray(0, 5))
    expect(await readFlowResponse(client, { signal: AbortSignal.timeout(2000) })).toEqual({
      ok: false,
      reason: 'header-timeout',
    })
    await done
  })

  it('runs the splice even when the sender reset the stream while the exit dialled, so the exit releases its socket', async () => {
    const [client, exitSide] = await streamPair()
    let dialled = (): void => {}
    const dialling = new Promise<void>((r) => {
      dialled = r
    })
    let released = false
    // The exit's connection to the destination is made only after the sender gave up on the flow.
    const exit: FlowExit = {
      connect: async () => {
        await dialling
        return async (stream) => {
          released = true
          stream.abort(new Error('released'))
        }
      },
    }
    const handler = createFlowHandler({ policy: () => policy }, { exit })
    const done = handler.handle(exitSide, conn)
    client.send(encodeFlowHeader(header))
    await new Promise((r) => setTimeout(r, 50))
    client.abort(new Error('the client went away'))
    await expect.poll(() => exitSide.status).not.toBe('open')
    dialled()
    await done
    expect(released).toBe(true)
    expect(handler.flowsOf('12D3KooWpeer')).toBe(0)
  })

  it('bounds flows per peer and frees the slot when a flow ends', async () => {
    let release = (): void => {}
    const held = new Promise<void>((r) => {
      release = r
    })
    const exit: FlowExit = { connect: async () => async () => held }
    const handler = createFlowHandler({ policy: () => policy, maxFlowsPerPeer: 1 }, { exit })
    const [c1, e1] = await streamPair()
    const first = handler.handle(e1, conn)
    c1.send(encodeFlowHeader(header))
    expect(await readFlowResponse(c1, { signal: AbortSignal.timeout(2000) })).toEqual({ ok: true })
    expect(handler.flowsOf('12D3KooWpeer')).toBe(1)
    const [c2, e2] = await streamPair()
    const second = handler.handle(e2, conn)
    c2.send(encodeFlowHeader(header))
    expect(await readFlowResponse(c2, { signal: AbortSignal.timeout(2000) })).toEqual({
      ok: false,
      reason: 'too-many-flows',
    })
    await second
    release()
    await first
    expect(handler.flowsOf('12D3KooWpeer')).toBe(0)
  })

  it('500 random headers through real streams: each answered with ok or a reason, none left counted', async () => {
    const handler = createFlowHandler({ policy: () => policy, headerTimeoutMs: 50 }, { exit: echoExit })
    let seed = 7
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed / 0x7fffffff
    }
    for (let i = 0; i < 500; i++) {
      const bytes = new Uint8Array(encodeFlowHeader(header))
      for (let k = 0; k < 1 + Math.floor(rand() * 4); k++)
        bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256)
      const [client, exitSide] = await streamPair({ delay: 0 })
      const done = handler.handle(exitSide, conn)
      client.send(bytes)
      const got = await readFlowResponse(client, { signal: AbortSignal.timeout(2000) })
      if (got.ok) await client.close()
      await done
    }
    expect(handler.flowsOf('12D3KooWpeer')).toBe(0)
    expect(Object.values(handler.refusals()).reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
  })
})
