import { createHash } from 'node:crypto'
import type { FlowChannel, ServiceEntry } from '@podlink/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ManualTimers } from './manual-timers.ts'
import {
  closeCode,
  createLab,
  type Lab,
  POD,
  receiveAll,
  sendPattern,
  shortExchange,
  type Transport,
} from './tcp-harness.ts'

export interface SuiteOptions {
  /** Bytes pushed each way in the byte-identity test. */
  readonly bulkBytes: number
  /** Most bytes the transport may hold for one flow whose reader is slow. */
  readonly maxTransportBuffered: number
  /** What `podlink flows` must say carries the flow, on both agents. */
  readonly channel: FlowChannel
}

/** The TCP flow behaviour every transport must show: run against the memory pair and real libp2p streams. */
export function tcpFlowSuite(transport: (timers: ManualTimers) => Transport, options: SuiteOptions): void {
  let lab: Lab
  let t: Transport
  beforeEach(async () => {
    lab = await createLab((timers) => {
      t = transport(timers)
      return t
    })
  })
  afterEach(async () => {
    await lab.close()
  })
  const pod = { kind: 'pod', endpoint: POD } as const

  describe(`TCP flows over ${transport.name || 'a transport'}`, () => {
    it('carries bytes both ways byte-identical (sha256 at both ends)', async () => {
      const { client, outcome } = await lab.dial(pod)
      const server = await lab.accepted()
      const up = receiveAll(server)
      const down = receiveAll(client)
      const [sentUp, sentDown] = await Promise.all([
        sendPattern(client, options.bulkBytes),
        sendPattern(server, options.bulkBytes),
      ])
      expect((await up).sha256).toBe(sentUp)
      expect((await down).sha256).toBe(sentDown)
      const o = await outcome
      expect(o.error).toBeNull()
      expect([o.txBytes, o.rxBytes]).toEqual([options.bulkBytes, options.bulkBytes])
      expect(lab.registry.size).toBe(0)
    })

    it('tells which channel carries the flow, on the sender and on the exit', async () => {
      const { client, outcome } = await lab.dial(pod)
      client.write('ping')
      const server = await lab.accepted()
      await new Promise((resolve) => server.once('data', resolve))
      const open = lab.registry.list()
      expect(open).toHaveLength(2)
      expect(open.map((f) => f.channel)).toEqual([options.channel, options.channel])
      client.end()
      server.end()
      expect((await outcome).error).toBeNull()
    })

    it('carries the client half-close: the response after the request FIN arrives whole', async () => {
      const { client, outcome } = await lab.dial(pod)
      client.end('GET / HTTP/1.0\r\n\r\n')
      const server = await lab.accepted()
      const request = await receiveAll(server)
      expect(request.bytes).toBe(18)
      const reply = receiveAll(client)
      server.end(Buffer.alloc(100_000, 7))
      expect((await reply).bytes).toBe(100_000)
      expect((await outcome).error).toBeNull()
    })

    it('carries the server half-close: the client keeps sending after the server FIN', async () => {
      const { client, outcome } = await lab.dial(pod)
      client.write('hello')
      const server = await lab.accepted()
      const got = receiveAll(server)
      server.end('bye')
      const reply = await receiveAll(client)
      expect(reply.bytes).toBe(3)
      client.end(Buffer.alloc(50_000, 1))
      expect((await got).bytes).toBe(50_005)
      expect((await outcome).error).toBeNull()
    })

    it('carries a client reset to the server', async () => {
      const { client, outcome } = await lab.dial(pod)
      client.write('x')
      const server = await lab.accepted()
      const code = closeCode(server)
      client.resetAndDestroy()
      expect(await code).toBe('ECONNRESET')
      expect((await outcome).error).not.toBeNull()
    })

    it('carries a server reset to the client', async () => {
      const { client, outcome } = await lab.dial(pod)
      client.write('x')
      const server = await lab.accepted()
      const code = closeCode(client)
      server.resetAndDestroy()
      expect(await code).toBe('ECONNRESET')
      expect((await outcome).error).not.toBeNull()
    })

    it('slows a fast writer to a slow reader without unbounded buffering', async () => {
      const total = 16 * 1024 * 1024
      const { client, outcome } = await lab.dial(pod)
      const server = await lab.accepted()
      let transportPeak = 0
      const hash = createHash('sha256')
      let got = 0
      const done = new Promise<void>((resolve) => {
        server.on('data', (c: Buffer) => {
          hash.update(c)
          got += c.length
          transportPeak = Math.max(transportPeak, t.buffered())
          // A slow reader: one chunk, then a pause of 1 ms.
          server.pause()
          setTimeout(() => server.resume(), 1)
        })
        server.once('end', () => resolve())
      })
      const sent = await sendPattern(client, total)
      await done
      expect(got).toBe(total)
      expect(hash.digest('hex')).toBe(sent)
      expect(transportPeak).toBeLessThanOrEqual(options.maxTransportBuffered)
      expect(lab.proxySocketPeak).toBeLessThanOrEqual(512 * 1024)
      client.end()
      server.end()
      expect((await outcome).error).toBeNull()
    })

    it('resets both sides when the flow is idle past its timeout (injected clock)', async () => {
      const { client, outcome } = await lab.dial(pod, { idleTimeoutMs: 30_000 })
      client.write('ping')
      const server = await lab.accepted()
      await new Promise((r) => server.once('data', r))
      const clientClosed = closeCode(client)
      const serverClosed = closeCode(server)
      lab.timers.advance(29_999)
      expect(lab.registry.size).toBe(2) // the sender's flow and the exit's
      lab.timers.advance(1)
      expect((await outcome).error?.message).toMatch(/idle/)
      expect(await clientClosed).toBe('ECONNRESET')
      expect(await serverClosed).toBe('ECONNRESET')
    })

    it('retries a refused endpoint on the next one with the first bytes replayed, invisibly', async () => {
      const entry: ServiceEntry = {
        service: 'default/web',
        portName: 'http',
        clusterIP: '10.96.0.10',
        port: 80,
        protocol: 'tcp',
        endpoints: [
          { ip: '10.244.9.9', port: 80, node: 'edge3-a', class: 'mesh' },
          { ip: '10.244.3.8', port: 80, node: 'edge2-a', class: 'mesh' },
        ],
        sessionAffinity: 'None',
        affinityTimeoutSeconds: 10800,
        offLan: true,
      }
      const { serverGot, clientGot, outcome: o } = await shortExchange(lab, { kind: 'service', entry })
      expect([serverGot, clientGot]).toEqual([11, 2])
      expect([o.attempts, o.endpoint, o.error]).toEqual([2, '10.244.3.8:80', null])
    })

    it('resets the client when every endpoint refuses', async () => {
      const { client, outcome } = await lab.dial({ kind: 'pod', endpoint: { ...POD, ip: '10.244.9.9' } })
      const code = closeCode(client)
      client.write('x')
      expect(await code).toBe('ECONNRESET')
      expect((await outcome).error?.message).toMatch(/refused/)
    })

    it('completes 200 concurrent flows', async () => {
      const n = 200
      const flows = await Promise.all(Array.from({ length: n }, () => lab.dial(pod)))
      const servers = await Promise.all(flows.map(() => lab.accepted()))
      for (const s of servers) s.on('data', (c: Buffer) => s.write(c)).on('end', () => s.end())
      const results = await Promise.all(
        flows.map(async ({ client }, i) => {
          const got = receiveAll(client)
          client.end(Buffer.alloc(16 * 1024, i & 255))
          return (await got).bytes
        }),
      )
      expect(results).toEqual(Array.from({ length: n }, () => 16 * 1024))
      const outcomes = await Promise.all(flows.map((f) => f.outcome))
      expect(outcomes.filter((o) => o.error !== null)).toEqual([])
      expect(lab.registry.size).toBe(0)
    })
  })
}
