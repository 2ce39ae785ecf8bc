import { describe, expect, it } from 'vitest'
import { type MessageChunk, type MessageStreamLike, messageStreamFlowStream } from './message-stream-flow-stream.ts'

/**
 * The read side of @libp2p/utils 7.4.1's AbstractMessageStream with yamux's flow control, reduced to what decides
 * whether the sender may send: `granting` is yamux's "not paused" state (window updates flow). resume() makes the
 * stream readable, dispatches its read buffer synchronously and only then grants again (sendResume), as libp2p does.
 */
class FakeLibp2pStream implements MessageStreamLike {
  status = 'open'
  writableNeedsDrain = false
  writeBufferLength = 0
  sendResult = true
  readableEnded = false
  maxReadBufferLength = 4 << 20
  readStatus: 'readable' | 'paused' = 'readable'
  granting = true
  readonly readBuffer: Uint8Array[] = []
  private readonly onMessage: Array<(evt: { readonly data: MessageChunk }) => void> = []
  private readonly others = new Map<string, Array<() => void>>()
  send(): boolean {
    return this.sendResult
  }
  emit(type: 'drain' | 'idle'): void {
    for (const l of this.others.get(type) ?? []) l()
  }
  async close(): Promise<void> {}
  abort(): void {}
  unshift(): void {}
  pause(): void {
    if (this.readStatus === 'paused') return
    this.readStatus = 'paused'
    this.granting = false
  }
  resume(): void {
    if (this.readStatus === 'readable') return
    this.readStatus = 'readable'
    this.dispatch()
    this.granting = true
  }
  /** The remote sent a frame. */
  push(data: Uint8Array): void {
    this.readBuffer.push(data)
    this.dispatch()
  }
  private dispatch(): void {
    if (this.readStatus === 'paused' || this.readBuffer.length === 0) return
    const parts = this.readBuffer.splice(0)
    for (const l of this.onMessage) l({ data: { byteLength: parts.length, [Symbol.iterator]: () => parts.values() } })
  }
  addEventListener(type: string, listener: (evt: never) => void): void {
    if (type === 'message') this.onMessage.push(listener as (evt: { readonly data: MessageChunk }) => void)
    else this.others.set(type, [...(this.others.get(type) ?? []), listener as () => void])
  }
}

describe('messageStreamFlowStream over libp2p flow control', () => {
  it('leaves libp2p paused when the reader pauses on data its own resume dispatched', () => {
    const raw = new FakeLibp2pStream()
    const flow = messageStreamFlowStream(raw)
    const got: number[] = []
    // A reader whose sink fills on every chunk: it takes one chunk and pauses.
    flow.start({
      onData: (chunk) => {
        got.push(chunk[0]!)
        flow.pause()
      },
      onEnd: () => {},
      onDrain: () => {},
      onClose: () => {},
    })
    raw.push(Uint8Array.of(1))
    expect(got).toEqual([1])
    expect(raw.granting).toBe(false)
    // Frames already in flight arrive while paused, then the sink drains.
    raw.push(Uint8Array.of(2))
    raw.push(Uint8Array.of(3))
    flow.resume()
    expect(got).toEqual([1, 2])
    // The reader paused again during the dispatch that resume() caused: the sender must not get a new window.
    expect(raw.granting).toBe(false)
    flow.resume()
    expect(got).toEqual([1, 2, 3])
    expect(raw.granting).toBe(false)
    flow.resume()
    expect(raw.granting).toBe(true)
    raw.push(Uint8Array.of(4))
    expect(got).toEqual([1, 2, 3, 4])
    expect(raw.granting).toBe(false)
  })

  it('delivers in order what arrives while it is delivering', () => {
    const raw = new FakeLibp2pStream()
    const flow = messageStreamFlowStream(raw)
    const got: number[] = []
    flow.start({
      onData: (chunk) => {
        got.push(chunk[0]!)
        // A frame arrives synchronously while the reader handles the previous one.
        if (chunk[0] === 1) raw.push(Uint8Array.of(2))
      },
      onEnd: () => {},
      onDrain: () => {},
      onClose: () => {},
    })
    raw.push(Uint8Array.of(1))
    expect(got).toEqual([1, 2])
    expect(raw.granting).toBe(true)
  })

  it("stays stopped through a connection's drain while its own send window is spent, then reports one drain", async () => {
    const raw = new FakeLibp2pStream()
    const flow = messageStreamFlowStream(raw)
    let drains = 0
    flow.start({ onData: () => {}, onEnd: () => {}, onDrain: () => drains++, onClose: () => {} })
    const ticks = () => new Promise((r) => setTimeout(r, 0))
    // yamux took the chunk but could not send it all: the window is spent, libp2p still says "more".
    raw.writeBufferLength = 200 * 1024
    expect(flow.send(new Uint8Array(64 * 1024))).toBe(false)
    expect(flow.needsDrain).toBe(true)
    // Another stream's traffic drained the connection: libp2p tells every stream, this one included.
    raw.emit('drain')
    await ticks()
    expect(drains).toBe(0)
    expect(flow.needsDrain).toBe(true)
    // A window update let it send most of its queue: under the high-water mark now.
    raw.writeBufferLength = 16 * 1024
    raw.emit('drain')
    raw.emit('idle')
    await ticks()
    expect(drains).toBe(1)
    expect(flow.needsDrain).toBe(false)
  })

  it("stops on libp2p's own backpressure and reports the drain that follows", async () => {
    const raw = new FakeLibp2pStream()
    const flow = messageStreamFlowStream(raw)
    let drains = 0
    flow.start({ onData: () => {}, onEnd: () => {}, onDrain: () => drains++, onClose: () => {} })
    raw.sendResult = false
    raw.writableNeedsDrain = true
    expect(flow.send(new Uint8Array(10))).toBe(false)
    raw.emit('drain')
    await new Promise((r) => setTimeout(r, 0))
    expect(drains).toBe(0)
    raw.writableNeedsDrain = false
    raw.emit('drain')
    await new Promise((r) => setTimeout(r, 0))
    expect(drains).toBe(1)
    // No drain is reported to a sender that was never stopped.
    raw.sendResult = true
    expect(flow.send(new Uint8Array(10))).toBe(true)
    raw.emit('drain')
    await new Promise((r) => setTimeout(r, 0))
    expect(drains).toBe(1)
  })
})
