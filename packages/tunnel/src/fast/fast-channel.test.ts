import net from 'node:net'
import tls from 'node:tls'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { BUSY_KEEPALIVE_MS } from '@podlink/core'
import { keepaliveTimersMs } from '@podlink/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { createFlowHandler } from '../flow/flow-handler.ts'
import { encodeFlowHeader } from '../flow/flow-header.ts'
import type { PeerRefusal } from '../node/create-tunnel-node.ts'
import { dialFast, type FastCredentials, type FastServer, fastCredentials, startFastServer } from './fast-channel.ts'
import { createFastPool, type FastPool, type FastPoolOptions } from './fast-pool.ts'
import { SealedSocket } from './sealed-socket.ts'

const PSK = new Uint8Array(32).fill(1)
const OTHER_PSK = new Uint8Array(32).fill(2)

const creds = async (psk: Uint8Array | null = PSK, sealed = false): Promise<FastCredentials> =>
  fastCredentials(await generateKeyPair('Ed25519'), psk, { sealed })
/** Credentials that offer sealed records (podlink-flow/2). */
const sealedCreds = (): Promise<FastCredentials> => creds(PSK, true)

/** `from` dials `to`'s listener on loopback; the socket is closed after the test. */
async function dialTo(server: FastServer, to: FastCredentials, from: FastCredentials): Promise<tls.TLSSocket> {
  const socket = await dialFast({
    host: '127.0.0.1',
    port: server.port,
    peer: to.peerId,
    credentials: from,
    signal: AbortSignal.timeout(3000),
  })
  sockets.push(socket)
  return socket
}

const servers: FastServer[] = []
const sockets: net.Socket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

interface Served {
  readonly server: FastServer
  readonly admitted: Array<{ socket: tls.TLSSocket; peer: string }>
  readonly refused: PeerRefusal[]
}

async function serve(server: FastCredentials, members: readonly string[]): Promise<Served> {
  const admitted: Served['admitted'] = []
  const refused: PeerRefusal[] = []
  const s = await startFastServer(
    {
      host: '127.0.0.1',
      port: 0,
      credentials: server,
      isMember: (p) => members.includes(p),
      onRefused: (r) => refused.push(r),
      handshakeTimeoutMs: 1000,
    },
    (socket, peer) => {
      sockets.push(socket)
      admitted.push({ socket, peer })
    },
  )
  servers.push(s)
  return { server: s, admitted, refused }
}

const until = async (check: () => boolean, ms = 3000): Promise<void> => {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('fast channel', () => {
  it('closing the listener closes its sealed connections too', async () => {
    const [a, b] = [await sealedCreds(), await sealedCreds()]
    const { server, admitted } = await serve(b, [a.peerId])
    await dialTo(server, b, a)
    await until(() => admitted.length === 1)
    const closed = new Promise((r) => admitted[0]!.socket.once('close', r))
    await server.close()
    await closed
  })

  it('leaves TLS for sealed records when both ends offer them, and stays on TLS when one does not', async () => {
    const [a, b, plainA] = [await sealedCreds(), await sealedCreds(), await creds()]
    const { server, admitted } = await serve(b, [a.peerId, plainA.peerId])
    const both = await dialTo(server, b, a)
    await until(() => admitted.length === 1)
    expect(both).toBeInstanceOf(SealedSocket)
    expect(admitted[0]!.socket).toBeInstanceOf(SealedSocket)
    // The dialler's first sealed bytes come right behind the verdict: none may be lost in the switch, either way.
    const up = Buffer.alloc(100_000, 3)
    const gotUp: Buffer[] = []
    admitted[0]!.socket.on('data', (d: Buffer) => gotUp.push(d))
    both.write(up)
    await until(() => Buffer.concat(gotUp).length === up.length)
    expect(Buffer.concat(gotUp).equals(up)).toBe(true)
    const gotDown = new Promise<string>((r) => both.once('data', (d) => r(String(d))))
    both.resume()
    admitted[0]!.socket.write('back')
    expect(await gotDown).toBe('back')
    // The sealed socket's session still resumes the next TLS handshake.
    expect((both as unknown as SealedSocket).getSession()).toBeInstanceOf(Buffer)

    // Over a socket of its own (a punched one): its close listeners (the punch port's release) wait for the sealed
    // socket's close, not the TLS socket's, which is dropped at the switch while the connection lives on.
    const own = net.connect({ host: '127.0.0.1', port: server.port })
    await new Promise((r) => own.once('connect', r))
    let ownClosed = false
    own.once('close', () => {
      ownClosed = true
    })
    const punched = await dialFast({
      host: '',
      port: 0,
      socket: own,
      peer: b.peerId,
      credentials: a,
      signal: AbortSignal.timeout(3000),
    })
    expect(punched).toBeInstanceOf(SealedSocket)
    await new Promise((r) => setTimeout(r, 50))
    expect(ownClosed).toBe(false)
    punched.destroy()
    await until(() => ownClosed)

    const mixed = await dialTo(server, b, plainA)
    await until(() => admitted.length === 3)
    expect(mixed).toBeInstanceOf(tls.TLSSocket)
    expect(admitted[2]!.socket).toBeInstanceOf(tls.TLSSocket)
    expect(mixed.alpnProtocol).toBe('podlink-flow/1')
  })

  it('admits a member holding the PSK: both ends learn who the other is, and bytes flow both ways', async () => {
    const [a, b] = [await creds(), await creds()]
    const { server, admitted, refused } = await serve(b, [a.peerId])
    const socket = await dialFast({
      host: '127.0.0.1',
      port: server.port,
      peer: b.peerId,
      credentials: a,
      signal: AbortSignal.timeout(3000),
    })
    sockets.push(socket)
    await until(() => admitted.length === 1)
    expect(admitted[0]!.peer).toBe(a.peerId)
    expect(refused).toEqual([])
    expect(socket.getCipher().name).toBe('TLS_AES_128_GCM_SHA256')
    const got = new Promise<string>((r) => admitted[0]!.socket.once('data', (d) => r(String(d))))
    admitted[0]!.socket.resume()
    socket.write('hello')
    expect(await got).toBe('hello')
    expect(server.sockets().get(a.peerId)).toBe(1)
  })

  // A fast socket that only receives must find a NAT mapping its router forgot (BUSY_KEEPALIVE_MS): both ends probe
  // after 1 s of silence. ss shows each socket's keepalive timer.
  it('probes after 1 s of silence on both ends of a fast socket', async () => {
    const [a, b] = [await creds(), await creds()]
    const { server, admitted } = await serve(b, [a.peerId])
    await dialTo(server, b, a)
    await until(() => admitted.length === 1)
    const timers = () => keepaliveTimersMs(`( sport = :${server.port} or dport = :${server.port} )`)
    await expect.poll(() => timers().length).toBe(2)
    for (const ms of timers()) expect(ms).toBeLessThanOrEqual(BUSY_KEEPALIVE_MS)
  })

  it('refuses a listener that is not the peer the dialler meant', async () => {
    const [a, b, c] = [await creds(), await creds(), await creds()]
    const { server } = await serve(b, [a.peerId])
    await expect(
      dialFast({
        host: '127.0.0.1',
        port: server.port,
        peer: c.peerId,
        credentials: a,
        signal: AbortSignal.timeout(3000),
      }),
    ).rejects.toMatchObject({ code: 'FAST_WRONG_PEER' })
  })

  it('shuts out a peer on no Node, and counts it as not-a-member', async () => {
    const [a, b, stranger] = [await creds(), await creds(), await creds()]
    const { server, admitted, refused } = await serve(b, [a.peerId])
    await expect(
      dialFast({
        host: '127.0.0.1',
        port: server.port,
        peer: b.peerId,
        credentials: stranger,
        signal: AbortSignal.timeout(3000),
      }),
    ).rejects.toMatchObject({ code: 'FAST_NOT_ADMITTED' })
    expect(admitted).toEqual([])
    expect(refused).toEqual([{ reason: 'not-a-member', peer: stranger.peerId }])
  })

  it('shuts out a member with the wrong PSK on both ends, and counts it as wrong-psk', async () => {
    const [a, b] = [await creds(OTHER_PSK), await creds()]
    const { server, admitted, refused } = await serve(b, [a.peerId])
    await expect(
      dialFast({
        host: '127.0.0.1',
        port: server.port,
        peer: b.peerId,
        credentials: a,
        signal: AbortSignal.timeout(3000),
      }),
    ).rejects.toMatchObject({ code: 'PSK_MISMATCH' })
    await until(() => refused.length === 1)
    expect(refused).toEqual([{ reason: 'wrong-psk' }])
    expect(admitted).toEqual([])
  })

  it('drops a TLS client without a certificate and a client that speaks no TLS, and goes on serving', async () => {
    const [a, b] = [await creds(), await creds()]
    const { server, admitted } = await serve(b, [a.peerId])
    const anonymous = tls.connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false })
    anonymous.on('error', () => {})
    await new Promise((r) => anonymous.once('close', r))
    const garbage = net.connect({ host: '127.0.0.1', port: server.port })
    garbage.on('error', () => {})
    garbage.write(Buffer.alloc(4096, 0x41))
    await new Promise((r) => garbage.once('close', r))
    const ok = await dialFast({
      host: '127.0.0.1',
      port: server.port,
      peer: b.peerId,
      credentials: a,
      signal: AbortSignal.timeout(3000),
    })
    sockets.push(ok)
    await until(() => admitted.length === 1)
  })

  it('gives up a dial when its signal fires (a listener that never answers)', async () => {
    const a = await creds()
    const silent = net.createServer(() => {})
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
    const t0 = Date.now()
    await expect(
      dialFast({
        host: '127.0.0.1',
        port: (silent.address() as net.AddressInfo).port,
        peer: a.peerId,
        credentials: a,
        signal: AbortSignal.timeout(300),
      }),
    ).rejects.toThrow()
    expect(Date.now() - t0).toBeLessThan(2000)
    silent.close()
  })
})

describe('flow handler on fast sockets', () => {
  it('closes a ready socket the sender gave up unused without counting a refusal; garbage is bad-header', async () => {
    const [a, b] = [await creds(), await creds()]
    const handler = createFlowHandler(
      { policy: () => ({ ownPodCIDRs: ['10.244.3.0/24'], servedEndpoints: new Set(), forbidden: [] }) },
      {
        exit: { connect: () => Promise.reject(new Error('unused')) },
        socketExit: { connect: () => Promise.reject(new Error('unreachable pod')) },
      },
    )
    const handled: Array<Promise<void>> = []
    const s = await startFastServer(
      { host: '127.0.0.1', port: 0, credentials: b, isMember: (p) => p === a.peerId },
      (socket, peer) => handled.push(handler.handleSocket(socket, peer)),
    )
    servers.push(s)
    const dial = () =>
      dialFast({ host: '127.0.0.1', port: s.port, peer: b.peerId, credentials: a, signal: AbortSignal.timeout(3000) })
    const unused = await dial()
    await until(() => handled.length === 1)
    unused.end()
    await handled[0]
    expect(Object.values(handler.refusals()).reduce((x, y) => x + y, 0)).toBe(0)

    const bad = await dial()
    await until(() => handled.length === 2)
    const answer = new Promise<Buffer>((r) => bad.once('data', r))
    bad.resume()
    bad.write(Buffer.from([0xff, 0xff, 0xff, 0xff]))
    expect([...(await answer)]).toEqual([1, 7]) // version 1, code 7 = bad-header
    await handled[1]
    expect(handler.refusals()['bad-header']).toBe(1)

    const refusedPod = await dial()
    await until(() => handled.length === 3)
    const answer2 = new Promise<Buffer>((r) => refusedPod.once('data', r))
    refusedPod.resume()
    refusedPod.write(
      encodeFlowHeader({
        protocol: 'tcp',
        dst: { ip: '10.244.9.9', port: 80 },
        src: null,
        service: false,
        serviceKey: '',
      }),
    )
    expect([...(await answer2)]).toEqual([1, 1]) // not-my-pod: the exit's policy holds on this channel too
    expect(handler.refusals()['not-my-pod']).toBe(1)
    expect(handler.flowsOf(a.peerId)).toBe(0)
  })
})

/** A pool over dialFast with credentials `a` that counts its dials. */
/** A loopback port nothing listens on (bound, then closed): dials to it are refused. */
async function refusingPort(): Promise<number> {
  const closed = net.createServer()
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
  const port = (closed.address() as net.AddressInfo).port
  await new Promise((r) => closed.close(r))
  return port
}

/** A pool whose dials take `delay.ms` longer than the TLS dial itself (set by the test as it goes). */
function delayedPool(a: FastCredentials, options: FastPoolOptions): { pool: FastPool; delay: { ms: number } } {
  const delay = { ms: 0 }
  const pool = createFastPool(async (peer, host, port, signal) => {
    await new Promise((r) => setTimeout(r, delay.ms))
    return dialFast({ host, port, peer, credentials: a, signal })
  }, options)
  return { pool, delay }
}

/** Proves the peer to a pool of size 1 (a first dial lands) and takes its ready socket: the pool is then empty. */
async function workingAndEmpty(pool: FastPool, peer: string, port: number): Promise<void> {
  pool.take(peer, '127.0.0.1', port)
  await until(() => pool.status().get(peer)?.ready === 1)
  pool.take(peer, '127.0.0.1', port)?.destroy()
}

/**
 * Connection churn: takes a socket (and drops it, as a short flow would) every `everyMs` for `forMs`. Returns how
 * many takes found one ready.
 */
async function takeEvery(pool: FastPool, peer: string, port: number, everyMs: number, forMs: number): Promise<number> {
  let got = 0
  const t0 = Date.now()
  while (Date.now() - t0 < forMs) {
    const s = pool.take(peer, '127.0.0.1', port)
    if (s !== null) {
      got++
      s.destroy()
    }
    await new Promise((r) => setTimeout(r, everyMs))
  }
  return got
}

function countingPool(a: FastCredentials, options: FastPoolOptions): { pool: FastPool; dials: () => number } {
  let dials = 0
  const pool = createFastPool((peer, host, port, signal) => {
    dials++
    return dialFast({ host, port, peer, credentials: a, signal })
  }, options)
  return { pool, dials: () => dials }
}

describe('fast pool', () => {
  it('warms on the first want, hands out ready sockets, refills, and counts takes and misses', async () => {
    const [a, b] = [await creds(), await creds()]
    const { server, admitted } = await serve(b, [a.peerId])
    const pool = createFastPool(
      (peer, host, port, signal, session) =>
        dialFast({ host, port, peer, credentials: a, signal, ...(session ? { session } : {}) }),
      { size: 2 },
    )
    try {
      expect(pool.take(b.peerId, '127.0.0.1', server.port)).toBeNull()
      await until(() => pool.status().get(b.peerId)?.ready === 2)
      const s1 = pool.take(b.peerId, '127.0.0.1', server.port)
      expect(s1).not.toBeNull()
      sockets.push(s1!)
      await until(() => pool.status().get(b.peerId)?.ready === 2)
      expect(pool.status().get(b.peerId)).toMatchObject({ taken: 1, missed: 1, failures: 0, lastError: null })
      expect(admitted.length).toBe(3)
      // The refill resumed a TLS session the peer gave an earlier socket: no certificate signatures, same checks.
      const resumed = [pool.take(b.peerId, '127.0.0.1', server.port)!, pool.take(b.peerId, '127.0.0.1', server.port)!]
      sockets.push(...resumed)
      expect(resumed.map((s) => s.isSessionReused())).toContain(true)
      await until(() => pool.status().get(b.peerId)?.ready === 2)
      pool.forget(b.peerId)
      expect(pool.status().has(b.peerId)).toBe(false)
      await until(() => server.sockets().get(a.peerId) === 3) // the two ready ones closed; the taken ones live
    } finally {
      pool.close()
    }
  })

  it('a stale peer: its ready sockets are closed and fresh ones dialled', async () => {
    const [a, b] = [await creds(), await creds()]
    const { server } = await serve(b, [a.peerId])
    const { pool, dials } = countingPool(a, { size: 2 })
    try {
      pool.take(b.peerId, '127.0.0.1', server.port)
      await until(() => pool.status().get(b.peerId)?.ready === 2)
      expect(dials()).toBe(2)
      pool.stale(b.peerId)
      expect(pool.status().get(b.peerId)?.ready).toBe(0)
      await until(() => pool.status().get(b.peerId)?.ready === 2)
      expect(dials()).toBe(4)
      await until(() => server.sockets().get(a.peerId) === 2) // the two old ones are gone at the listener too
    } finally {
      pool.close()
    }
  })

  it('backs off a peer whose listener refuses, and says why', async () => {
    const a = await creds()
    const port = await refusingPort()
    const { pool, dials } = countingPool(a, { size: 2, retryMinMs: 60_000 })
    try {
      expect(pool.take(a.peerId, '127.0.0.1', port)).toBeNull()
      await until(() => pool.status().get(a.peerId)?.failures === 2)
      expect(pool.status().get(a.peerId)?.lastError).toMatch(/ECONNREFUSED/)
      for (let i = 0; i < 5; i++) expect(pool.take(a.peerId, '127.0.0.1', port)).toBeNull()
      expect(dials()).toBe(2) // backing off: no new dial per flow
    } finally {
      pool.close()
    }
  })
})

describe('fast pool rate limit', () => {
  it('dials a peer at most maxDialsPerSecond times a second, however many flows take from it', async () => {
    const [a, b] = [await creds(), await creds()]
    const { server } = await serve(b, [a.peerId])
    const { pool, dials } = countingPool(a, { size: 2, maxDialsPerSecond: 4, refillQuietMs: 1000, burstGapMs: 60_000 })
    try {
      const got = await takeEvery(pool, b.peerId, server.port, 5, 500)
      expect(dials()).toBe(4)
      expect(got).toBeLessThanOrEqual(4)
      await until(() => dials() === 6, 2500) // refills resume once the second is over, back to the pool size
      expect(pool.status().get(b.peerId)?.missed).toBeGreaterThan(50)
    } finally {
      pool.close()
    }
  })

  it('refills a pool a burst drained as soon as the takes pause, past the rate limit', async () => {
    const [a, b] = [await creds(), await creds()]
    const { server } = await serve(b, [a.peerId])
    const { pool, dials } = countingPool(a, { size: 2, maxDialsPerSecond: 4, refillQuietMs: 50, burstGapMs: 60_000 })
    try {
      await takeEvery(pool, b.peerId, server.port, 5, 200)
      const burstEnd = Date.now()
      expect(dials()).toBe(4) // the limit held while the takes kept coming
      await until(() => pool.status().get(b.peerId)?.ready === 2, 2000)
      // ready again well before the second since the first dial was over: the bulk flow after a burst gets one
      expect(Date.now() - burstEnd).toBeLessThan(500) // the limit alone: ~800 ms
      expect(pool.take(b.peerId, '127.0.0.1', server.port)).not.toBeNull()
    } finally {
      pool.close()
    }
  })
})

describe('fast pool: a new burst after a pause', () => {
  it('a flow after a pause in the takes may dial past the spent limit, and so may the one right behind it', async () => {
    const [a, b] = [await creds(), await creds()]
    const { server } = await serve(b, [a.peerId])
    // No quiet refill within the test: only the burst rule can give the flows after the pause a socket.
    const opts = { size: 2, maxDialsPerSecond: 3, refillQuietMs: 60_000, burstGapMs: 40, burstEveryMs: 100 }
    const { pool, dials } = countingPool(a, opts)
    try {
      pool.take(b.peerId, '127.0.0.1', server.port) // the first dial: the peer works
      await until(() => pool.status().get(b.peerId)?.ready === 2)
      // A burst of short connections, a take every 5 ms (closer than burstGapMs): the second's dials are spent.
      await takeEvery(pool, b.peerId, server.port, 5, 150)
      await new Promise((r) => setTimeout(r, 20))
      // Take what landed since (no pause between these takes), then the second's dials and the burst's are spent.
      while (pool.take(b.peerId, '127.0.0.1', server.port)?.destroy()) {}
      const spent = dials()
      expect(spent).toBeGreaterThanOrEqual(3)
      expect(pool.status().get(b.peerId)).toMatchObject({ ready: 0, dialing: 0 })
      // Still within the burst (less than 40 ms since the last take): no dial, no socket.
      expect(await pool.takeOrWait(b.peerId, '127.0.0.1', server.port, 200)).toBeNull()
      expect(dials()).toBe(spent)
      // After a pause: iperf3's control connection, and its data connection 2 ms behind, both get a fast socket.
      await new Promise((r) => setTimeout(r, 60))
      const control = pool.takeOrWait(b.peerId, '127.0.0.1', server.port, 2000)
      await new Promise((r) => setTimeout(r, 2))
      const data = pool.takeOrWait(b.peerId, '127.0.0.1', server.port, 2000)
      const got = await Promise.all([control, data])
      sockets.push(...got.filter((s) => s !== null))
      expect(got.every((s) => s !== null)).toBe(true)
      expect(dials() - spent).toBeLessThanOrEqual(2) // the new burst's allowance: the pool's size, not unbounded
      expect(pool.status().get(b.peerId)?.waited).toBe(2)
    } finally {
      pool.close()
    }
  })

  it('grants a new burst at most once per burstEveryMs: a connection every 15 ms does not dial for each', async () => {
    const [a, b] = [await creds(), await creds()]
    const { server } = await serve(b, [a.peerId])
    const opts = { size: 2, maxDialsPerSecond: 2, refillQuietMs: 60_000, burstGapMs: 10, burstEveryMs: 250 }
    const { pool, dials } = countingPool(a, opts)
    try {
      pool.take(b.peerId, '127.0.0.1', server.port)
      await until(() => pool.status().get(b.peerId)?.ready === 2)
      await takeEvery(pool, b.peerId, server.port, 15, 600)
      // Within 0.6 s the second's limit (2) plus at most three bursts' allowance (2 each), not one dial per take
      // (~40 takes); a burst every gap would have dialled ~40.
      expect(dials()).toBeLessThanOrEqual(2 + 2 + 3 * 2)
    } finally {
      pool.close()
    }
  })
})

describe('fast pool: a flow waits for a socket being dialled', () => {
  it('a burst larger than the pool: each flow past the ready ones gets a socket dialled for it', async () => {
    const [a, b] = [await creds(), await creds()]
    const { server } = await serve(b, [a.peerId])
    const { pool, dials } = countingPool(a, { size: 2 })
    try {
      pool.take(b.peerId, '127.0.0.1', server.port)
      await until(() => pool.status().get(b.peerId)?.ready === 2)
      // iperf3 -P 5: six connections at once, two ready.
      const got = await Promise.all(
        Array.from({ length: 6 }, () => pool.takeOrWait(b.peerId, '127.0.0.1', server.port, 2000)),
      )
      sockets.push(...got.filter((s) => s !== null))
      expect(got.every((s) => s !== null && !s.destroyed)).toBe(true)
      expect(new Set(got).size).toBe(6)
      expect(pool.status().get(b.peerId)).toMatchObject({ taken: 6, waited: 4, missed: 1 }) // the missed: the warm-up
      expect(dials()).toBeGreaterThanOrEqual(6)
      await until(() => pool.status().get(b.peerId)?.ready === 2) // and the pool is refilled after them
    } finally {
      pool.close()
    }
  })

  it('a dial slower than the wait: the flow goes without, and the socket is kept ready for the next one', async () => {
    const [a, b] = [await creds(), await creds()]
    const { server } = await serve(b, [a.peerId])
    const { pool, delay } = delayedPool(a, { size: 1 })
    try {
      // The peer works (a first dial landed), and its ready socket is taken: the pool is empty.
      await workingAndEmpty(pool, b.peerId, server.port)
      delay.ms = 300
      const t0 = Date.now()
      expect(await pool.takeOrWait(b.peerId, '127.0.0.1', server.port, 50)).toBeNull()
      expect(Date.now() - t0).toBeLessThan(250)
      expect(pool.status().get(b.peerId)).toMatchObject({ taken: 1, missed: 2, waited: 0 })
      // The pool's own refill and the one dialled for the flow both land (one above size, until it idles out).
      await until(() => pool.status().get(b.peerId)?.ready === 2)
      pool.take(b.peerId, '127.0.0.1', server.port)?.destroy()
      const s = await pool.takeOrWait(b.peerId, '127.0.0.1', server.port, 50)
      expect(s).not.toBeNull()
      sockets.push(s!)
      // A second flow right behind the first finds the refill in flight (nobody waits for it) and waits for that one.
      delay.ms = 100
      await new Promise((r) => setTimeout(r, 40)) // the refill started (refillDelayMs 25)
      const before = pool.status().get(b.peerId)!.dialing
      const next = await pool.takeOrWait(b.peerId, '127.0.0.1', server.port, 1000)
      expect(before).toBe(1)
      expect(next).not.toBeNull()
      sockets.push(next!)
      expect(pool.status().get(b.peerId)).toMatchObject({ taken: 4, waited: 1 })
    } finally {
      pool.close()
    }
  })

  it('does not wait past the rate limit, a peer backing off, a refused dial, or the pool closing', async () => {
    const a = await creds()
    const port = await refusingPort()
    const { pool, dials } = countingPool(a, { size: 1, retryMinMs: 60_000 })
    try {
      // Never dialled yet: no wait, the dial starts in the background (and is refused).
      const t0 = Date.now()
      expect(await pool.takeOrWait(a.peerId, '127.0.0.1', port, 5000)).toBeNull()
      expect(Date.now() - t0).toBeLessThan(1000)
      await until(() => (pool.status().get(a.peerId)?.failures ?? 0) > 0)
      // Backing off: null at once, no new dial.
      const n = dials()
      expect(await pool.takeOrWait(a.peerId, '127.0.0.1', port, 5000)).toBeNull()
      expect(dials()).toBe(n)
    } finally {
      pool.close()
    }

    const [c, d] = [await creds(), await creds()]
    const { server } = await serve(d, [c.peerId])
    const limited = countingPool(c, { size: 1, maxDialsPerSecond: 3, refillQuietMs: 10_000, burstGapMs: 60_000 })
    try {
      limited.pool.take(d.peerId, '127.0.0.1', server.port) // the first dial: the peer works
      await until(() => limited.pool.status().get(d.peerId)?.ready === 1)
      const got = await Promise.all(
        Array.from({ length: 4 }, () => limited.pool.takeOrWait(d.peerId, '127.0.0.1', server.port, 2000)),
      )
      sockets.push(...got.filter((s) => s !== null))
      // The ready one, then two dials left this second: three flows get one, one goes without.
      expect(got.filter((s) => s !== null).length).toBe(3)
      expect(limited.dials()).toBe(3)
    } finally {
      limited.pool.close()
    }
    // Closing the pool releases a waiter at once.
    const { pool: slow, delay } = delayedPool(c, { size: 1 })
    try {
      await workingAndEmpty(slow, d.peerId, server.port)
      delay.ms = 2000
      const waiting = slow.takeOrWait(d.peerId, '127.0.0.1', server.port, 5000)
      slow.close()
      const t0 = Date.now()
      expect(await waiting).toBeNull()
      expect(Date.now() - t0).toBeLessThan(100)
    } finally {
      slow.close()
    }
  })
})

describe('fast pool: no waiting on a listener that does not answer', () => {
  it('a peer whose dials never completed: flows do not wait, the dial goes on in the background', async () => {
    const a = await creds()
    let started = 0
    const pool = createFastPool(
      (_peer, _host, _port, signal) => {
        started++
        // A listener behind a firewall that drops SYNs: the dial hangs until its own timeout.
        return new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
      },
      { size: 1, dialTimeoutMs: 300, retryMinMs: 60_000 },
    )
    try {
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now()
        expect(await pool.takeOrWait(a.peerId, '127.0.0.1', 9, 5000)).toBeNull()
        expect(Date.now() - t0).toBeLessThan(50)
      }
      expect(started).toBe(1)
      await until(() => pool.status().get(a.peerId)?.failures === 1)
      expect(pool.status().get(a.peerId)).toMatchObject({ taken: 0, waited: 0, missed: 3 })
    } finally {
      pool.close()
    }
  })
})
