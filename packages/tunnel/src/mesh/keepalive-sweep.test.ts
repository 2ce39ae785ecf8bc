import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection, Stream } from '@libp2p/interface'
import { BUSY_KEEPALIVE_MS, KEEPALIVE_IDLE_MS } from '@podlink/core'
import { keepaliveTimersMs } from '@podlink/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { createTunnelNode, type TunnelNode } from '../node/create-tunnel-node.ts'
import { startKeepaliveSweep, tcpSocketOf } from './keepalive-sweep.ts'

const started: TunnelNode[] = []
const sweeps: { stop(): void }[] = []
afterEach(async () => {
  for (const s of sweeps.splice(0)) s.stop()
  await Promise.all(started.splice(0).map((n) => n.stop()))
})

async function pair(): Promise<[TunnelNode, TunnelNode]> {
  const make = async () => {
    const n = await createTunnelNode(
      { listen: ['/ip4/127.0.0.1/tcp/0'], publicRanges: ['127.0.0.0/8'] },
      { privateKey: await generateKeyPair('Ed25519') },
    )
    started.push(n)
    return n
  }
  const a = await make()
  const b = await make()
  await a.setMembers([b.peerId])
  await b.setMembers([a.peerId])
  return [a, b]
}

describe('keepalive sweep', () => {
  it('finds the TCP socket under dialled and accepted libp2p connections (libp2p internals checked)', async () => {
    const [a, b] = await pair()
    const conn = await a.libp2p.dial(b.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5000) })
    expect(tcpSocketOf(conn)?.remotePort).toBe(Number(b.libp2p.getMultiaddrs()[0]!.toString().split('/')[4]))
    await expect.poll(() => b.libp2p.getConnections().length).toBe(1)
    expect(tcpSocketOf(b.libp2p.getConnections()[0]!)?.localPort).toBe(tcpSocketOf(conn)?.remotePort)
    // A connection without a TCP socket under it (a relayed one) is left alone.
    expect(tcpSocketOf({ maConn: {} } as unknown as Connection)).toBeNull()
    expect(tcpSocketOf({} as unknown as Connection)).toBeNull()
  })

  // ss shows each socket's keepalive timer: at most 1 s while a stream is open, back to the idle time after.
  it('probes after 1 s on a connection with open streams, after 5 s once it has none, on both ends', async () => {
    const [a, b] = await pair()
    const held: Stream[] = []
    await b.libp2p.handle('/test/hold/1', (s) => {
      held.push(s)
    })
    const conn = await a.libp2p.dial(b.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5000) })
    const port = tcpSocketOf(conn)!.localPort!
    const timers = () => keepaliveTimersMs(`( sport = :${port} or dport = :${port} )`)
    const sa = startKeepaliveSweep(() => a.libp2p.getConnections(), { intervalMs: 60_000 })
    const sb = startKeepaliveSweep(() => b.libp2p.getConnections(), { intervalMs: 60_000 })
    sweeps.push(sa, sb)
    await expect.poll(() => b.libp2p.getConnections().length).toBe(1)
    // Identify's streams may still be open right after the dial: wait for a quiet connection.
    await expect.poll(() => conn.streams.length + b.libp2p.getConnections()[0]!.streams.length).toBe(0)
    sa.sweep()
    sb.sweep()
    await expect.poll(() => timers().length).toBe(2)
    for (const ms of timers()) expect(ms).toBeGreaterThan(BUSY_KEEPALIVE_MS)

    const stream = await conn.newStream('/test/hold/1', { signal: AbortSignal.timeout(5000) })
    await expect.poll(() => held.length).toBe(1)
    expect(sa.sweep()).toBe(1)
    expect(sb.sweep()).toBe(1)
    expect(sa.sweep(), 'nothing changed: no setsockopt again').toBe(0)
    // A socket with bytes in flight shows its retransmission timer instead: wait until both show keepalive.
    await expect.poll(() => timers().length).toBe(2)
    for (const ms of timers()) expect(ms).toBeLessThanOrEqual(BUSY_KEEPALIVE_MS)

    await stream.close()
    await held[0]!.close()
    await expect.poll(() => conn.streams.length + b.libp2p.getConnections()[0]!.streams.length).toBe(0)
    expect(sa.sweep()).toBe(1)
    expect(sb.sweep()).toBe(1)
    await expect.poll(() => timers().length).toBe(2)
    for (const ms of timers()) {
      expect(ms).toBeGreaterThan(BUSY_KEEPALIVE_MS)
      expect(ms).toBeLessThanOrEqual(KEEPALIVE_IDLE_MS)
    }
  })
})
