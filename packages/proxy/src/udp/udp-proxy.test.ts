import dgram from 'node:dgram'
import type { ServiceEndpoint } from '@podlink/core'
import { createDatagramDecoder, encodeDatagram } from '@podlink/tunnel'
import { afterEach, describe, expect, it } from 'vitest'
import { EndpointBalancer } from '../balance/endpoint-balancer.ts'
import { FlowRegistry } from '../registry/flow-registry.ts'
import type { OpenFlowStream } from '../stream/flow-stream.ts'
import { createFlowExit } from '../tcp/flow-exit.ts'
import { createManualTimers } from '../testing/manual-timers.ts'
import { type MemoryFlowStream, memoryFlowStreamPair } from '../testing/memory-flow-stream.ts'
import { type CapturedDatagramLike, createUdpProxy } from './udp-proxy.ts'

const framing = { encode: encodeDatagram, createDecoder: createDatagramDecoder }
const POD: ServiceEndpoint = { ip: '10.244.3.7', port: 53, node: 'edge2-a', class: 'mesh' }
const closers: Array<() => void> = []
afterEach(() => {
  for (const c of closers.splice(0)) c()
})

/** An echo "pod" on loopback; the exit maps the pod address to it. Returns its port. */
async function echoPod(): Promise<number> {
  const s = dgram.createSocket('udp4')
  s.on('message', (m, r) => s.send(m, r.port, r.address))
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
  closers.push(() => s.close())
  return s.address().port
}

async function setup(options: { maxFlowsPerSource?: number } = {}) {
  const timers = createManualTimers()
  const registry = new FlowRegistry({}, timers)
  const port = await echoPod()
  const exit = createFlowExit<MemoryFlowStream>(
    {
      adapt: (s) => s,
      connectPod: () => {
        throw new Error('no TCP here')
      },
      createUdpSocket: () => {
        const s = dgram.createSocket('udp4')
        // The pod's address is mapped to the loopback echo server.
        const connect = s.connect.bind(s)
        s.connect = ((_p: number, _a: string, cb: () => void) => connect(port, '127.0.0.1', cb)) as typeof s.connect
        return s
      },
      framing,
      registry,
      timers,
    },
    { udpIdleTimeoutMs: 60_000 },
  )
  let opened = 0
  const open: OpenFlowStream = async (_peer, request, { signal }) => {
    opened++
    const [sender, exitEnd] = memoryFlowStreamPair()
    const splice = await exit.connect({ header: request, peer: 'p' }, { signal })
    void splice(exitEnd, { signal })
    return { stream: sender, answer: Promise.resolve({ ok: true as const }) }
  }
  const proxy = createUdpProxy(
    {
      balancer: new EndpointBalancer({ self: 'edge1-a' }, timers),
      registry,
      timers,
      framing,
      resolve: () => ({ kind: 'pod', endpoint: POD }),
      peerOf: () => 'peer-b',
      openFlowStream: open,
      createDirectSocket: () => dgram.createSocket('udp4'),
    },
    { idleTimeoutMs: 60_000, ...options },
  )
  closers.push(() => proxy.close())
  return { timers, registry, proxy, opened: () => opened }
}

function datagram(data: Uint8Array, srcPort: number, replies: Uint8Array[]): CapturedDatagramLike {
  return {
    data,
    src: { address: '10.244.1.5', port: srcPort },
    originalDst: { address: POD.ip, port: POD.port },
    reply: (b) => replies.push(b),
  }
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r))
}

describe('UDP flows', () => {
  it('keeps datagram boundaries both ways on one flow per (source, destination)', async () => {
    const { proxy, opened } = await setup()
    const sizes = [1, 100, 1400, 9000, 60_000, 0x7f, 2]
    const replies: Uint8Array[] = []
    for (const [i, n] of sizes.entries()) proxy.handle(datagram(new Uint8Array(n).fill(i + 1), 4000, replies))
    await until(() => replies.length === sizes.length)
    expect(replies.map((r) => r.length)).toEqual(sizes)
    expect(replies.map((r) => r[0])).toEqual(sizes.map((_, i) => i + 1))
    expect(opened()).toBe(1)
    expect(proxy.counters().flows).toBe(1)
  })

  it('ends a flow after its idle timeout, at both ends (injected clock)', async () => {
    const { proxy, timers, registry } = await setup()
    const replies: Uint8Array[] = []
    proxy.handle(datagram(Uint8Array.of(1), 4000, replies))
    await until(() => replies.length === 1)
    expect(registry.size).toBe(2) // sender and exit
    timers.advance(59_999)
    expect(proxy.counters().flows).toBe(1)
    timers.advance(1)
    expect(proxy.counters().flows).toBe(0)
    await until(() => registry.size === 0) // the exit saw the end and closed its pod socket
  })

  it('bounds flows per source and drops (and counts) the rest', async () => {
    const { proxy } = await setup({ maxFlowsPerSource: 3 })
    const replies: Uint8Array[] = []
    for (let p = 0; p < 5; p++) proxy.handle(datagram(Uint8Array.of(p), 4000 + p, replies))
    expect(proxy.counters()).toEqual({ flows: 3, dropped: 2 })
    await until(() => replies.length === 3)
  })
})
