import type net from 'node:net'
import { resumeReads, stopAndDrain } from '@podlink/core'
import koffi from 'koffi'

/** One side of a flow taken out of Node for the native relay (see FlowStream.handOff). */
export type HandOff = PlainHandOff | SealedHandOffLike

export interface PlainHandOff {
  readonly kind: 'plain'
  /** A dup of the socket's fd, the relay's to close. */
  readonly fd: number
  /** Bytes Node read from the socket that were not passed on yet. */
  readonly pending: Buffer
  /** The relay is done: destroy the socket (its close is the last one of the fd). */
  release(): void
  /** The relay did not take it: the socket reads as before. */
  undo(): void
  /** Calls `cb` when the socket is closed by anyone but `release` (a registry dropping the flow): abort then. */
  onLost(cb: () => void): void
}

/** A fast socket's side, from the tunnel's SealedSocket.sealedHandOff (the proxy does not import the tunnel). */
export interface SealedHandOffLike {
  readonly kind: 'sealed'
  readonly fd: number
  readonly keys: Buffer
  readonly sealSeq: bigint
  readonly openSeq: bigint
  readonly pending: Buffer
  readonly partial: Buffer
  release(): void
  undo(): void
  onLost(cb: () => void): void
}

/** A TCP socket (not TLS, not a pipe) with an fd: what handOffPlain may take, state permitting. */
export function canHandOffPlain(socket: net.Socket): boolean {
  if ((socket as net.Socket & { encrypted?: boolean }).encrypted === true) return false
  const handle = (socket as unknown as { _handle?: TcpHandle & { constructor?: { name?: string } } })._handle
  return handle?.constructor?.name === 'TCP' && typeof handle.fd === 'number' && handle.fd >= 0
}

let dupFn: ((fd: number) => number) | null = null
let closeFn: ((fd: number) => number) | null = null
function libc(): { dup: (fd: number) => number; close: (fd: number) => number } {
  if (dupFn === null || closeFn === null) {
    const lib = koffi.load('libc.so.6')
    dupFn = lib.func('int dup(int)') as (fd: number) => number
    closeFn = lib.func('int close(int)') as (fd: number) => number
  }
  return { dup: dupFn, close: closeFn }
}

interface TcpHandle {
  fd?: number
  reading?: boolean
  readStop?: () => number
}

/**
 * Take a plain TCP socket's fd for the relay: stop its handle reading, collect what Node read and did not pass on,
 * dup the fd. Null (nothing taken; the caller restores its own listeners) when it is not a TCP socket in the middle of
 * a flow: ended either way, writes queued, or read by anyone (the caller detached its own listeners first).
 * `restore` (the caller's) runs on `undo`.
 */
export function handOffPlain(socket: net.Socket, restore: () => void): PlainHandOff | null {
  if (!canHandOffPlain(socket)) return null
  const handle = (socket as unknown as { _handle?: TcpHandle })._handle
  const fd = handle?.fd
  if (
    typeof fd !== 'number' ||
    fd < 0 ||
    handle?.readStop === undefined ||
    socket.destroyed ||
    socket.readableEnded ||
    socket.writableEnded ||
    socket.writableLength > 0 ||
    socket.listenerCount('data') > 0 ||
    socket.listenerCount('readable') > 0
  )
    return null
  const pending = stopAndDrain(socket)
  // A FIN or an error that was already in Node's hands: not for the relay.
  const copy = socket.readableEnded || socket.destroyed ? -1 : libc().dup(fd)
  const unshiftBack = (): void => {
    resumeReads(socket)
    for (let i = pending.length - 1; i >= 0; i--) socket.unshift(pending[i])
  }
  // (The caller restores its listeners when this returns null.)
  if (copy < 0) {
    unshiftBack()
    return null
  }
  let released = false
  return {
    kind: 'plain',
    fd: copy,
    pending: Buffer.concat(pending),
    release: () => {
      released = true
      socket.destroy()
    },
    onLost: (cb) => {
      socket.once('close', () => {
        if (!released) cb()
      })
    },
    undo: () => {
      libc().close(copy)
      unshiftBack()
      restore()
    },
  }
}
