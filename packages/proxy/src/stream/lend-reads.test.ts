import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import tls from 'node:tls'
import { afterEach, describe, expect, it } from 'vitest'
import { systemTimers } from './flow-stream.ts'
import { lendReads } from './lend-reads.ts'
import { socketFlowStream } from './socket-flow-stream.ts'
import { splice } from './splice.ts'

const closers: Array<() => void> = []
afterEach(() => {
  for (const c of closers.splice(0)) c()
})

/** A connected TCP pair on loopback: [client, accepted]. */
async function tcpPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  closers.push(() => server.close())
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r))
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  await new Promise<void>((r) => client.once('connect', r))
  const s = await accepted
  closers.push(() => {
    client.destroy()
    s.destroy()
  })
  return [client, s]
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

describe('lendReads', () => {
  it('switches an accepted socket to one reused buffer, and every byte arrives in order', async () => {
    const [client, accepted] = await tcpPair()
    const data = randomBytes(8 * 1024 * 1024)
    const got: Buffer[] = []
    const buffers = new Set<ArrayBufferLike>()
    // Copy each lent chunk at once (the buffer is reused after the callback): always reusable.
    expect(
      lendReads(
        accepted,
        (chunk) => {
          buffers.add(chunk.buffer)
          got.push(Buffer.from(chunk))
        },
        () => true,
      ),
    ).toBe(true)
    const ended = new Promise<void>((r) => accepted.once('end', r))
    accepted.resume()
    client.end(data)
    await ended
    expect(sha(Buffer.concat(got))).toBe(sha(data))
    expect(buffers.size).toBe(1)
  })

  it('takes a fresh buffer whenever the consumer still holds the last one', async () => {
    const [client, accepted] = await tcpPair()
    const data = randomBytes(2 * 1024 * 1024)
    const kept: Buffer[] = []
    expect(
      lendReads(
        accepted,
        (chunk) => kept.push(chunk),
        () => false,
      ),
    ).toBe(true)
    const ended = new Promise<void>((r) => accepted.once('end', r))
    accepted.resume()
    client.end(data)
    await ended
    // Chunks kept without copying are intact: none was overwritten by a later read.
    expect(sha(Buffer.concat(kept))).toBe(sha(data))
    expect(new Set(kept.map((c) => c.buffer)).size).toBe(kept.length)
  })

  it('pause stops reading at once and resume goes on where it stopped', async () => {
    const [client, accepted] = await tcpPair()
    const data = randomBytes(4 * 1024 * 1024)
    const got: Buffer[] = []
    let paused = false
    lendReads(
      accepted,
      (chunk) => {
        expect(paused).toBe(false)
        got.push(Buffer.from(chunk))
        if (got.length % 5 === 0) {
          paused = true
          accepted.pause()
          setTimeout(() => {
            paused = false
            accepted.resume()
          }, 2)
        }
      },
      () => true,
    )
    const ended = new Promise<void>((r) => accepted.once('end', r))
    accepted.resume()
    client.end(data)
    await ended
    expect(sha(Buffer.concat(got))).toBe(sha(data))
  })

  it('works under TLS on the server side, where Node offers no onread', async () => {
    const { execFileSync } = await import('node:child_process')
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs')
    const dir = mkdtempSync('/tmp/lend-reads-')
    closers.push(() => rmSync(dir, { recursive: true, force: true }))
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
        ...['-keyout', `${dir}/k.pem`, '-out', `${dir}/c.pem`, '-subj', '/CN=t', '-days', '1'],
      ],
      { stdio: 'ignore' },
    )
    const key = readFileSync(`${dir}/k.pem`)
    const cert = readFileSync(`${dir}/c.pem`)
    const server = tls.createServer({ key, cert })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    closers.push(() => server.close())
    const accepted = new Promise<tls.TLSSocket>((r) => server.once('secureConnection', r))
    const client = tls.connect({ port: (server.address() as net.AddressInfo).port, rejectUnauthorized: false })
    closers.push(() => client.destroy())
    await new Promise<void>((r) => client.once('secureConnect', r))
    const s = await accepted
    const data = randomBytes(4 * 1024 * 1024)
    const got: Buffer[] = []
    const buffers = new Set<ArrayBufferLike>()
    expect(
      lendReads(
        s,
        (chunk) => {
          buffers.add(chunk.buffer)
          got.push(Buffer.from(chunk))
        },
        () => true,
      ),
    ).toBe(true)
    const ended = new Promise<void>((r) => s.once('end', r))
    s.resume()
    client.end(data)
    await ended
    expect(sha(Buffer.concat(got))).toBe(sha(data))
    expect(buffers.size).toBe(1)
  })

  it('changes nothing on a socket that is not connected yet, and can be turned off', async () => {
    const s = new net.Socket()
    expect(
      lendReads(
        s,
        () => {},
        () => true,
      ),
    ).toBe(false)
    const [, accepted] = await tcpPair()
    process.env['PODLINK_LEND_READS'] = '0'
    try {
      expect(
        lendReads(
          accepted,
          () => {},
          () => true,
        ),
      ).toBe(false)
    } finally {
      delete process.env['PODLINK_LEND_READS']
    }
  })
})

describe('splice with lent reads', () => {
  it('carries a bulk flow byte-identical both ways through a slow sink, and reuses buffers once it is bulk', async () => {
    // client -> [a | b] -> server, where a and b are the proxy's two sockets
    const [client, a] = await tcpPair()
    const [b, server] = await tcpPair()
    const up = randomBytes(16 * 1024 * 1024)
    const down = randomBytes(3 * 1024 * 1024)
    const sp = splice(socketFlowStream(a), socketFlowStream(b), { timers: systemTimers, idleTimeoutMs: 0 })
    const serverGot: Buffer[] = []
    const clientGot: Buffer[] = []
    // A slow server: reads in bursts, so the proxy's sink fills and its source is paused and resumed.
    let n = 0
    server.on('data', (c: Buffer) => {
      serverGot.push(c)
      if (++n % 20 === 0) {
        server.pause()
        setTimeout(() => server.resume(), 3)
      }
    })
    client.on('data', (c: Buffer) => clientGot.push(c))
    const serverEnded = new Promise<void>((r) => server.once('end', r))
    const clientEnded = new Promise<void>((r) => client.once('end', r))
    client.end(up)
    server.end(down)
    await Promise.all([serverEnded, clientEnded])
    const r = await sp.done
    expect(r.error).toBeNull()
    expect(sha(Buffer.concat(serverGot))).toBe(sha(up))
    expect(sha(Buffer.concat(clientGot))).toBe(sha(down))
    expect(r.aToB).toBe(up.length)
    expect(r.bToA).toBe(down.length)
  })
})
