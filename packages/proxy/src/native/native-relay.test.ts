import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { SealedSocket } from '@podlink/tunnel'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { systemTimers } from '../stream/flow-stream.ts'
import { socketFlowStream } from '../stream/socket-flow-stream.ts'
import { type Splice, splice } from '../stream/splice.ts'
import { buildNativeRelay } from './build-native-relay.ts'
import { nativeRelay } from './native-relay.ts'
import { nativeSpliceCounts } from './native-splice.ts'

/** Two connected TCP sockets on loopback. */
async function pair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer({ allowHalfOpen: true })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r))
  const port = (server.address() as net.AddressInfo).port
  const a = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true })
  await new Promise((r) => a.once('connect', r))
  const b = await accepted
  server.close()
  return [a, b]
}

const closeCode = (s: net.Socket): Promise<string | null> =>
  new Promise((resolve) => {
    let code: string | null = null
    s.on('error', (err: NodeJS.ErrnoException) => {
      code = err.code ?? err.message
    })
    s.on('data', () => {})
    s.once('close', () => resolve(code))
  })

function collect(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = []
  s.on('data', (c: Buffer) => parts.push(c))
  return new Promise((resolve, reject) => {
    s.once('end', () => resolve(Buffer.concat(parts)))
    s.once('error', reject)
  })
}

/**
 * The relay's setting: `app` is a client whose socket the relay takes as its plain side, `peer` the far end of a
 * sealed fast socket (a SealedSocket in Node, the keys mirrored), `peerRaw` the TCP socket under it.
 */
async function relayed(): Promise<{ app: net.Socket; peer: SealedSocket; peerRaw: net.Socket; sp: Splice }> {
  const [app, plain] = await pair()
  const [near, far] = await pair()
  const keys = randomBytes(56)
  const mirrored = Buffer.concat([keys.subarray(28), keys.subarray(0, 28)])
  const sealedNear = new SealedSocket(near, keys)
  const peer = new SealedSocket(far, mirrored)
  const sp = splice(socketFlowStream(plain), socketFlowStream(sealedNear as unknown as net.Socket), {
    timers: systemTimers,
    idleTimeoutMs: 0,
  })
  // Resets are what several tests cause; each looks at them through closeCode.
  for (const s of [app, peer, far]) s.on('error', () => {})
  return { app, peer, peerRaw: far, sp }
}

describe('the native relay (libpodlink-relay) under splice', () => {
  const open: net.Socket[] = []
  beforeAll(() => {
    buildNativeRelay()
  })
  afterEach(() => {
    for (const s of open.splice(0)) s.destroy()
  })

  it('carries a flow both ways byte for byte, half-close included, and counts it', async () => {
    expect(nativeRelay()).not.toBeNull()
    const before = nativeSpliceCounts().carried
    const { app, peer, sp } = await relayed()
    open.push(app)
    expect(nativeSpliceCounts().carried).toBe(before + 1)
    const up = randomBytes(3 * 1024 * 1024 + 7)
    const down = randomBytes(2 * 1024 * 1024 + 3)
    const gotUp = collect(peer)
    const gotDown = collect(app)
    app.end(up)
    // The peer answers after the app's end arrived: a half-closed flow still carries the other way.
    expect((await gotUp).equals(up)).toBe(true)
    peer.end(down)
    expect((await gotDown).equals(down)).toBe(true)
    const r = await sp.done
    expect(r).toEqual({ aToB: up.length, bToA: down.length, error: null })
  })

  it('resets both sides on a record that fails authentication', async () => {
    const { app, peerRaw, sp } = await relayed()
    const appClosed = closeCode(app)
    // A well-formed head (data, 4 bytes) with a tag that cannot be right.
    peerRaw.write(Buffer.concat([Buffer.of(0x17, 0, 4), Buffer.from('evil'), Buffer.alloc(16)]))
    const r = await sp.done
    expect((r.error as { code?: string }).code).toBe('FAST_BAD_RECORD')
    expect(await appClosed).toBe('ECONNRESET')
  })

  it('resets both sides on garbage', async () => {
    const { app, peerRaw, sp } = await relayed()
    const appClosed = closeCode(app)
    peerRaw.write(randomBytes(64).fill(0x42, 0, 1))
    expect(((await sp.done).error as { code?: string }).code).toBe('FAST_BAD_RECORD')
    expect(await appClosed).toBe('ECONNRESET')
  })

  it('resets the plain side when the fast socket ends without an end record (truncated)', async () => {
    const { app, peerRaw, sp } = await relayed()
    const appClosed = closeCode(app)
    peerRaw.end()
    expect(((await sp.done).error as { code?: string }).code).toBe('PROXY_TRUNCATED')
    expect(await appClosed).toBe('ECONNRESET')
  })

  it('carries a reset of the plain side to the fast socket', async () => {
    const { app, peerRaw, sp } = await relayed()
    const peerClosed = closeCode(peerRaw)
    app.write('x')
    app.resetAndDestroy()
    expect(((await sp.done).error as { code?: string }).code).toBe('PROXY_RESET')
    expect(await peerClosed).toBe('ECONNRESET')
  })

  it('aborts on request with the caller error, resetting both sides', async () => {
    const { app, peerRaw, sp } = await relayed()
    const appClosed = closeCode(app)
    const peerClosed = closeCode(peerRaw)
    const why = new Error('dropped by the test')
    sp.abort(why)
    expect((await sp.done).error).toBe(why)
    expect(await appClosed).toBe('ECONNRESET')
    expect(await peerClosed).toBe('ECONNRESET')
  })

  it('stays in Node for two plain sockets (nothing to seal)', async () => {
    const [a1, a2] = await pair()
    const [b1, b2] = await pair()
    open.push(a1, a2, b1, b2)
    const before = nativeSpliceCounts()
    const sp = splice(socketFlowStream(a2), socketFlowStream(b1), { timers: systemTimers, idleTimeoutMs: 0 })
    expect(nativeSpliceCounts()).toEqual(before)
    const got = collect(b2)
    a1.end('through node')
    expect((await got).toString()).toBe('through node')
    b2.end()
    expect((await sp.done).error).toBeNull()
  })
})
