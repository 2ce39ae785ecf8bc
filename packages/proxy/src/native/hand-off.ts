import type net from 'node:net'
import { type PlainHandOff, resumeReads, stopAndDrain } from '@podlink/core'
import koffi from 'koffi'

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
