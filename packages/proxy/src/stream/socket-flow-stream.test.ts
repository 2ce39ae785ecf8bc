import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { socketFlowStream } from './socket-flow-stream.ts'

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

/** Every byte the peer receives until it sees the end. */
function receiveAll(socket: net.Socket): Promise<Buffer> {
  const got: Buffer[] = []
  socket.on('data', (c: Buffer) => got.push(c))
  return new Promise((r) => socket.once('end', () => r(Buffer.concat(got))))
}

/** Counts the writes the flow stream makes on its socket (what becomes a syscall each). */
function countWrites(socket: net.Socket): { sizes: number[] } {
  const sizes: number[] = []
  const write = socket.write.bind(socket) as (chunk: Uint8Array, cb?: () => void) => boolean
  ;(socket as unknown as { write: typeof write }).write = (chunk, cb) => {
    sizes.push(chunk.length)
    return write(chunk, cb)
  }
  return { sizes }
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const turn = (): Promise<void> => new Promise((r) => setImmediate(r))

describe('socketFlowStream write coalescing', () => {
  it('TLS-record-sized chunks given in one turn go out as one write, byte for byte', async () => {
    const [client, accepted] = await tcpPair()
    const writes = countWrites(client)
    const stream = socketFlowStream(client)
    stream.start({ onData() {}, onEnd() {}, onDrain() {}, onClose() {} })
    const received = receiveAll(accepted)
    // What a TLS socket delivers for one 64 KiB read of ciphertext: four records, the last one short.
    const data = randomBytes(16_384 * 3 + 9_000)
    // The source reuses its buffer after each chunk (lendReads): the stream must have copied what it kept.
    const lent = Buffer.alloc(16_384)
    for (let at = 0; at < data.length; at += 16_384) {
      const part = data.subarray(at, at + 16_384)
      part.copy(lent)
      expect(stream.send(lent.subarray(0, part.length))).toBe(true)
      lent.fill(0xee)
    }
    expect(writes.sizes).toEqual([]) // nothing written yet within this turn
    await turn()
    expect(writes.sizes).toEqual([data.length])
    stream.closeWrite()
    expect(sha(await received)).toBe(sha(data))
  })

  it('a small chunk with nothing pending is written at once; behind a batch it keeps its place', async () => {
    const [client, accepted] = await tcpPair()
    const writes = countWrites(client)
    const stream = socketFlowStream(client)
    stream.start({ onData() {}, onEnd() {}, onDrain() {}, onClose() {} })
    const received = receiveAll(accepted)
    const request = randomBytes(1024)
    stream.send(request)
    expect(writes.sizes).toEqual([1024]) // a request/response does not wait for the turn
    const records = [randomBytes(16_384), randomBytes(16_384)]
    const small = randomBytes(100)
    const big = randomBytes(64 * 1024) // a plain socket's read: written as it is, after the batch before it
    for (const r of records) stream.send(r)
    stream.send(small)
    stream.send(big)
    expect(writes.sizes).toEqual([1024, 32_868, 65_536])
    // More than a batch holds in one turn: written as each fills.
    const many = Array.from({ length: 6 }, () => randomBytes(16_384))
    for (const r of many) stream.send(r)
    await turn()
    expect(writes.sizes.slice(3)).toEqual([65_536, 32_768])
    stream.closeWrite()
    expect(sha(await received)).toBe(sha(Buffer.concat([request, ...records, small, big, ...many])))
  })

  it('half-close writes the pending batch first; an abort drops it', async () => {
    const [client, accepted] = await tcpPair()
    const stream = socketFlowStream(client)
    stream.start({ onData() {}, onEnd() {}, onDrain() {}, onClose() {} })
    const received = receiveAll(accepted)
    const tail = randomBytes(16_384)
    stream.send(tail)
    stream.closeWrite() // within the same turn: the batch goes before the FIN
    expect(sha(await received)).toBe(sha(tail))

    const [c2, a2] = await tcpPair()
    const writes = countWrites(c2)
    const s2 = socketFlowStream(c2)
    s2.start({ onData() {}, onEnd() {}, onDrain() {}, onClose() {} })
    const reset = new Promise<string | undefined>((r) => a2.once('error', (e: NodeJS.ErrnoException) => r(e.code)))
    a2.resume()
    s2.send(randomBytes(16_384))
    s2.abort(new Error('reset by the test'))
    await turn()
    expect(writes.sizes).toEqual([]) // the batch was dropped, not written after the reset
    expect(await reset).toBe('ECONNRESET')
  })

  it('a sink that is backed up says so to a batched send, and bulk traffic arrives intact', async () => {
    const [client, accepted] = await tcpPair()
    const stream = socketFlowStream(client)
    let drains = 0
    stream.start({ onData() {}, onEnd() {}, onDrain: () => drains++, onClose() {} })
    // The peer does not read: the kernel's buffers fill and the socket queues.
    accepted.pause()
    const data = randomBytes(16 * 1024 * 1024)
    let refused = -1
    for (let at = 0; at < data.length; at += 16_384) {
      if (!stream.send(data.subarray(at, at + 16_384))) {
        refused = at
        break
      }
      if ((at / 16_384) % 4 === 3) await turn()
    }
    expect(refused).toBeGreaterThan(0) // backpressure reached the source, well before 16 MiB
    expect(stream.needsDrain).toBe(true)
    const received = receiveAll(accepted)
    accepted.resume()
    await new Promise<void>((r) => {
      const check = (): void => (drains > 0 ? r() : void setTimeout(check, 5))
      check()
    })
    for (let at = refused + 16_384; at < data.length; at += 16_384) {
      stream.send(data.subarray(at, at + 16_384))
      if ((at / 16_384) % 4 === 3) await turn()
    }
    stream.closeWrite()
    expect(sha(await received)).toBe(sha(data))
  })

  it('PODLINK_COALESCE=0 writes every chunk as it comes', async () => {
    const [client, accepted] = await tcpPair()
    const writes = countWrites(client)
    process.env['PODLINK_COALESCE'] = '0'
    let stream: ReturnType<typeof socketFlowStream>
    try {
      stream = socketFlowStream(client)
    } finally {
      delete process.env['PODLINK_COALESCE']
    }
    stream.start({ onData() {}, onEnd() {}, onDrain() {}, onClose() {} })
    const received = receiveAll(accepted)
    const records = [randomBytes(16_384), randomBytes(16_384)]
    for (const r of records) stream.send(r)
    expect(writes.sizes).toEqual([16_384, 16_384])
    stream.closeWrite()
    expect(sha(await received)).toBe(sha(Buffer.concat(records)))
  })
})
