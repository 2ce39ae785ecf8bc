import net from 'node:net'
import type { Connection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { bestConnection, pathKind, relayOf } from './connection-path.ts'
import { observeMapping, observeOnce } from './observe-mapping.ts'
import { type ObserveServer, startObserveServer } from './observe-server.ts'

/** A TCP port nothing on loopback is bound to (not even in TIME_WAIT) at the moment of asking. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

const RELAY = '12D3KooWK8um73NkkYVvQXthtYcy7eZyG8e79stEoStVRVbYmJ2B'
const PEER = '12D3KooWBthKP3B2YJGtE8q2EGBGETT8HD7VYJcwHUdcmhpU5e7J'

function fakeConn(id: string, addr: string, open: number, status = 'open'): Connection {
  return { id, remoteAddr: multiaddr(addr), status, timeline: { open } } as unknown as Connection
}

describe('connection paths', () => {
  const relayed = fakeConn('r', `/ip4/203.0.113.11/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`, 1)
  const direct = fakeConn('d', `/ip4/203.0.113.22/tcp/4001/p2p/${PEER}`, 2)
  const newer = fakeConn('n', `/ip4/203.0.113.22/tcp/4001/p2p/${PEER}`, 3)
  const closing = fakeConn('c', `/ip4/203.0.113.22/tcp/4001/p2p/${PEER}`, 4, 'closing')

  it('names the relay of a relayed connection and nothing for a direct one', () => {
    expect(relayOf(relayed)).toBe(RELAY)
    expect(relayOf(direct)).toBeNull()
  })
  it('prefers open direct connections, newest first, over relayed ones', () => {
    expect(bestConnection([relayed, direct])?.id).toBe('d')
    expect(bestConnection([relayed, direct, newer, closing])?.id).toBe('n')
    expect(bestConnection([relayed, closing])?.id).toBe('r')
    expect(bestConnection([closing])).toBeUndefined()
  })
  it('reports lan, punched, direct, relay and none', () => {
    expect(pathKind(direct, true, new Set())).toBe('lan')
    expect(pathKind(direct, false, new Set(['d']))).toBe('punched')
    expect(pathKind(direct, false, new Set())).toBe('direct')
    expect(pathKind(relayed, false, new Set(['r']))).toBe('relay')
    expect(pathKind(undefined, false, new Set())).toBe('none')
    // A LAN peer is on flannel with or without a mesh connection.
    expect(pathKind(undefined, true, new Set())).toBe('lan')
  })
})

describe('observe server and mapping on loopback', () => {
  let server: ObserveServer | null = null
  afterEach(async () => {
    await server?.close()
    server = null
  })

  it('reports the source address and port the caller connected from', async () => {
    server = await startObserveServer({ host: '127.0.0.1', ports: [0] })
    const port = server.ports[0] ?? 0
    expect(port).toBeGreaterThan(0)
    const seen = await observeOnce(45_123, { host: '127.0.0.1', port }, AbortSignal.timeout(3_000))
    expect(seen).toEqual({ host: '127.0.0.1', port: 45_123 })
  })

  it('classes an unchanged, local mapping as no NAT, and no answer as unknown', async () => {
    server = await startObserveServer({ host: '127.0.0.1', ports: [0, 0] })
    const targets = server.ports.map((port) => ({ host: '127.0.0.1', port }))
    // Ports free now: a fixed one is still bound in TIME_WAIT when the suite runs again within a minute.
    const [local, local2] = [await freePort(), await freePort()]
    const mapping = await observeMapping(local, targets, AbortSignal.timeout(5_000))
    expect(mapping).toMatchObject({ kind: 'none', host: '127.0.0.1', port: local })
    expect(mapping.seen).toHaveLength(2)
    await server.close()
    server = null
    const none = await observeMapping(local2, targets, AbortSignal.timeout(5_000))
    expect(none.kind).toBe('unknown')
    expect(none.reason).toMatch(/ECONNREFUSED/)
  })
})
