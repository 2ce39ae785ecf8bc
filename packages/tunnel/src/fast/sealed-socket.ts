import { createCipheriv, createDecipheriv } from 'node:crypto'
import net from 'node:net'
import { Duplex } from 'node:stream'
import type tls from 'node:tls'
import { PodlinkError, resumeReads, type SealedHandOff, stopAndDrain } from '@podlink/core'
import koffi from 'koffi'

/**
 * The fast channel after its handshake, without TLS (ALPN podlink-flow/2, both agents having the native relay).
 *
 * The TLS handshake, the libp2p certificate check and the PSK proofs run as before; then both ends leave TLS and
 * seal records of their own, with keys exported from that very TLS session (so they are bound to the proven peer and
 * to this connection). The format is libpodlink-relay's (packages/proxy/native/relay.c): type (0x17 data, 0x15 end)
 * | plaintext length (u16 BE, <= 16384) | AES-128-GCM ciphertext | tag; the 3-byte head is the additional data, the
 * nonce the direction's IV XOR the record number. An end record is the sender's half-close; a TCP end without one is
 * a truncation. What this buys: an established flow's bytes can be carried by the native relay, outside Node's TLS
 * socket (see issue #10's note: ~0.04 ms per round trip over two agents).
 *
 * The switch: TLS reads ahead, so neither side may have the other's first sealed bytes inside OpenSSL. The listener
 * stops its TCP handle reading before it sends its verdict (the dialler sends nothing more until it has read it),
 * and the dialler leaves TLS once it read the verdict (the listener sends nothing until a flow header comes).
 * Each side then takes the TCP fd from under its TLS socket (dup) and drops the TLS socket without a close_notify.
 *
 * SealedSocket seals and opens in JS (node:crypto) for what Node itself reads and writes: the flow header, the
 * answer, and a flow the native relay cannot take. `sealedHandOff` gives the fd, keys and record numbers to it.
 */
export const SEALED_ALPN = 'podlink-flow/2'
const KEYS_LABEL = 'EXPORTER-podlink-sealed-records'
const KEY = 16
const IV = 12
export const KEYS_BYTES = 2 * (KEY + IV)
const HEAD = 3
const TAG = 16
const RECORD = 16384
const TYPE_DATA = 0x17
const TYPE_END = 0x15

const libc = koffi.load('libc.so.6')
const dup = libc.func('int dup(int)')
const closeFd = libc.func('int close(int)')

interface DirectionKey {
  readonly key: Buffer
  readonly iv: Buffer
}

/** The two directions' keys of a TLS session: the client (the dialler, the flow's entry) seals with the first. */
export function sealedKeys(socket: tls.TLSSocket, role: 'client' | 'server'): Buffer {
  const m = socket.exportKeyingMaterial(KEYS_BYTES, KEYS_LABEL, Buffer.alloc(0))
  const c2s = m.subarray(0, KEY + IV)
  const s2c = m.subarray(KEY + IV)
  // Laid out as the relay takes them: seal key and IV, then open key and IV.
  return role === 'client' ? Buffer.concat([c2s, s2c]) : Buffer.concat([s2c, c2s])
}

function nonce(iv: Buffer, seq: bigint): Buffer {
  const n = Buffer.from(iv)
  const hi = Number(seq >> 32n)
  const lo = Number(seq & 0xffffffffn)
  n.writeUInt32BE((n.readUInt32BE(4) ^ hi) >>> 0, 4)
  n.writeUInt32BE((n.readUInt32BE(8) ^ lo) >>> 0, 8)
  return n
}

function sealOne(k: DirectionKey, seq: bigint, type: number, plain: Uint8Array): Buffer {
  const head = Buffer.of(type, plain.length >> 8, plain.length & 0xff)
  const cipher = createCipheriv('aes-128-gcm', k.key, nonce(k.iv, seq))
  cipher.setAAD(head)
  const body = cipher.update(plain)
  cipher.final()
  return Buffer.concat([head, body, cipher.getAuthTag()])
}

/** The TCP fd under a net or TLS socket's handle, or -1. */
function fdOf(socket: net.Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: number; _parent?: { fd?: number } } })._handle
  const fd = handle?._parent?.fd ?? handle?.fd
  return typeof fd === 'number' ? fd : -1
}

/** Stops the TCP handle under a TLS socket reading (the listener, before its verdict: see the module comment). */
export function stopReadingUnderTls(socket: tls.TLSSocket): void {
  const parent = (socket as unknown as { _handle?: { _parent?: { readStop?: () => number } } })._handle?._parent
  parent?.readStop?.()
}

/**
 * Leaves TLS: a plain socket on a dup of the TCP fd under `socket`, which is then dropped (no close_notify is
 * sent). The caller made sure nothing of the peer's sealed bytes can be inside the TLS socket (module comment).
 */
export function leaveTls(socket: tls.TLSSocket, role: 'client' | 'server'): SealedSocket {
  const keys = sealedKeys(socket, role)
  const fd = fdOf(socket)
  if (fd < 0) throw new PodlinkError('FAST_SWITCH_FAILED', 'Cannot leave TLS as the fast socket has no TCP fd')
  socket.pause()
  stopReadingUnderTls(socket)
  if (socket.readableLength > 0) {
    throw new PodlinkError('FAST_SWITCH_FAILED', 'Cannot leave TLS as the peer sent bytes past its proof')
  }
  const copy = dup(fd) as number
  if (copy < 0) throw new PodlinkError('FAST_SWITCH_FAILED', 'Cannot leave TLS as dup() of its fd failed')
  const session = role === 'client' ? socket.getSession() : undefined
  // TLS over a socket of its own (a punched one, dialled or adopted): that socket closes with the TLS socket, but the
  // connection lives on, so its close listeners (the punch port's release) follow it to the sealed socket.
  const wrapped = (socket as unknown as { _handle?: { _parentWrap?: unknown } })._handle?._parentWrap
  const onClose = wrapped instanceof net.Socket ? wrapped.listeners('close') : []
  if (wrapped instanceof net.Socket) for (const l of onClose) wrapped.removeListener('close', l as () => void)
  socket.removeAllListeners()
  socket.on('error', () => {})
  socket.destroy()
  // Half-open allowed: a FIN from the peer must not end our side (an end record and FIN of ours may still follow).
  const raw = new net.Socket({ fd: copy, readable: true, writable: true, allowHalfOpen: true })
  const sealed = new SealedSocket(raw, keys, session)
  for (const l of onClose) sealed.once('close', l as () => void)
  return sealed
}

/** A fast socket after the switch: a Duplex of plaintext over sealed records on a plain TCP socket. */
export class SealedSocket extends Duplex {
  readonly raw: net.Socket
  readonly keys: Buffer
  private readonly seal: DirectionKey
  private readonly open: DirectionKey
  private sealSeq = 0n
  private openSeq = 0n
  private partial: Buffer = Buffer.alloc(0)
  private endSeen = false
  private handedOff = false
  private readonly session: Buffer | undefined
  private readonly onRawData = (chunk: Buffer): void => this.received(chunk)
  private readonly onRawEnd = (): void => {
    if (!this.endSeen)
      this.destroy(new PodlinkError('FAST_TRUNCATED', 'The fast socket ended without an end record (truncated)'))
  }
  private readonly onRawError = (err: Error): void => {
    this.destroy(err)
  }
  private readonly onRawClose = (): void => {
    if (!this.destroyed) this.destroy()
  }
  private readonly onRawDrain = (): void => {
    const cb = this.waitingDrain
    this.waitingDrain = null
    cb?.()
  }
  private waitingDrain: (() => void) | null = null

  constructor(raw: net.Socket, keys: Buffer, session?: Buffer) {
    super({ allowHalfOpen: true })
    this.raw = raw
    this.keys = keys
    this.seal = { key: keys.subarray(0, KEY), iv: keys.subarray(KEY, KEY + IV) }
    this.open = { key: keys.subarray(KEY + IV, 2 * KEY + IV), iv: keys.subarray(2 * KEY + IV) }
    this.session = session
    raw.pause()
    raw.on('data', this.onRawData)
    raw.on('end', this.onRawEnd)
    raw.on('error', this.onRawError)
    raw.on('close', this.onRawClose)
    raw.on('drain', this.onRawDrain)
  }

  /** What the handshake chose, as on a TLS socket. */
  readonly alpnProtocol = SEALED_ALPN

  /** The TLS session of the handshake (the dialler resumes the next one with it). */
  getSession(): Buffer | undefined {
    return this.session
  }

  /** The TCP handle: rstClose sets SO_LINGER 0 on its fd. */
  get _handle(): unknown {
    return (this.raw as unknown as { _handle: unknown })._handle
  }
  get remoteAddress(): string | undefined {
    return this.raw.remoteAddress
  }
  get remotePort(): number | undefined {
    return this.raw.remotePort
  }
  get localPort(): number | undefined {
    return this.raw.localPort
  }
  setNoDelay(noDelay?: boolean): this {
    this.raw.setNoDelay(noDelay)
    return this
  }
  setKeepAlive(enable?: boolean, delay?: number): this {
    this.raw.setKeepAlive(enable, delay)
    return this
  }
  resetAndDestroy(): this {
    this.raw.resetAndDestroy()
    this.destroy()
    return this
  }

  private sealed(type: number, chunk: Uint8Array): Buffer {
    if (chunk.length <= RECORD) return sealOne(this.seal, this.sealSeq++, type, chunk)
    const parts: Buffer[] = []
    for (let at = 0; at < chunk.length; at += RECORD)
      parts.push(sealOne(this.seal, this.sealSeq++, type, chunk.subarray(at, at + RECORD)))
    return Buffer.concat(parts)
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.raw.write(this.sealed(TYPE_DATA, chunk))) cb()
    else this.waitingDrain = cb
  }

  override _final(cb: (err?: Error | null) => void): void {
    // Finished once the end record and the FIN are out: the close that follows must not cut them.
    this.raw.end(this.sealed(TYPE_END, Buffer.alloc(0)), () => cb())
  }

  override _read(): void {
    if (!this.handedOff) this.raw.resume()
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.handedOff) this.raw.destroy()
    cb(err)
  }

  private received(chunk: Buffer): void {
    let buf = this.partial.length === 0 ? chunk : Buffer.concat([this.partial, chunk])
    let at = 0
    while (buf.length - at >= HEAD) {
      const type = buf[at]!
      const n = (buf[at + 1]! << 8) | buf[at + 2]!
      if ((type !== TYPE_DATA && type !== TYPE_END) || n > RECORD || (type === TYPE_END && n !== 0) || this.endSeen) {
        this.destroy(new PodlinkError('FAST_BAD_RECORD', 'The fast socket sent a malformed record'))
        return
      }
      if (buf.length - at < HEAD + n + TAG) break
      const decipher = createDecipheriv('aes-128-gcm', this.open.key, nonce(this.open.iv, this.openSeq++))
      decipher.setAAD(buf.subarray(at, at + HEAD))
      decipher.setAuthTag(buf.subarray(at + HEAD + n, at + HEAD + n + TAG))
      let plain: Buffer
      try {
        plain = decipher.update(buf.subarray(at + HEAD, at + HEAD + n))
        decipher.final()
      } catch {
        this.destroy(new PodlinkError('FAST_BAD_RECORD', 'A record on the fast socket failed authentication'))
        return
      }
      at += HEAD + n + TAG
      if (type === TYPE_END) {
        this.endSeen = true
        this.push(null)
      } else if (plain.length > 0 && !this.push(plain)) this.raw.pause()
    }
    buf = buf.subarray(at)
    this.partial = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf)
  }

  /**
   * Hand the connection to the native relay: stop reading it, collect what was read and not yet delivered, and give
   * a dup of the fd with the keys and record numbers. Null when it is not in a state to hand over (ended, writes
   * queued, someone reading it); nothing changed then.
   */
  sealedHandOff(): SealedHandOff | null {
    const fd = fdOf(this.raw)
    if (
      fd < 0 ||
      this.destroyed ||
      this.endSeen ||
      this.readableEnded ||
      this.writableEnded ||
      this.writableLength > 0 ||
      this.waitingDrain !== null ||
      this.raw.writableLength > 0 ||
      this.listenerCount('data') > 0 ||
      this.listenerCount('readable') > 0
    )
      return null
    const wasPaused = this.isPaused()
    this.pause()
    // No _read of ours may resume the raw socket from here (draining this stream's buffer below calls it).
    this.handedOff = true
    // What Node read from the kernel and did not deliver goes through the parser (emitted to it as 'data') first.
    stopAndDrain(this.raw)
    const pending: Buffer[] = []
    for (let c = this.read() as Buffer | null; c !== null; c = this.read() as Buffer | null) pending.push(c)
    const copy = this.endSeen || this.destroyed ? -1 : (dup(fd) as number)
    const undo = (): void => {
      this.handedOff = false
      resumeReads(this.raw)
      for (let i = pending.length - 1; i >= 0; i--) this.unshift(pending[i])
      if (!wasPaused) this.resume()
      this.raw.resume()
    }
    if (copy < 0) {
      undo()
      return null
    }
    let released = false
    return {
      kind: 'sealed',
      fd: copy,
      keys: this.keys,
      sealSeq: this.sealSeq,
      openSeq: this.openSeq,
      pending: Buffer.concat(pending),
      partial: this.partial,
      onLost: (cb) => {
        this.once('close', () => {
          if (!released) cb()
        })
      },
      release: () => {
        released = true
        this.raw.removeAllListeners()
        this.raw.on('error', () => {})
        this.raw.destroy()
        this.destroy()
      },
      undo: () => {
        closeFd(copy)
        undo()
      },
    }
  }
}
