import type { Socket } from 'node:net'
import { isIPv4 } from 'node:net'
import { PodlinkError } from '@podlink/core'
import koffi from 'koffi'
import { ipToBytes } from '../net/ip-bytes.ts'

/*
 * Raw sockets for hole punching (research/tcp-punch.md §2): Node's `net` cannot connect from a port a listener
 * holds, so the socket is made with libc through koffi (SO_REUSEADDR|SO_REUSEPORT, bound to the listening port,
 * non-blocking) and handed to `new net.Socket({ fd })`. Linux x86-64/arm64 constants.
 */
const libc = koffi.load('libc.so.6')
const socketFn = libc.func('int socket(int, int, int)')
const setsockoptFn = libc.func('int setsockopt(int, int, int, const void *, uint32_t)')
const bindFn = libc.func('int bind(int, const void *, uint32_t)')
const closeFn = libc.func('int close(int)')

const AF_INET = 2
const AF_INET6 = 10
const SOCK_STREAM = 1
const SOCK_NONBLOCK = 0o4000
const SOCK_CLOEXEC = 0o2000000
const SOL_SOCKET = 1
const SO_REUSEADDR = 2
const SO_REUSEPORT = 15
const SO_LINGER = 13

export const EADDRINUSE = 98
export const EADDRNOTAVAIL = 99

function sysError(call: string, errno: number): PodlinkError & { errno: number } {
  const err = new PodlinkError('PUNCH_SOCKET', `Cannot prepare the punch socket as ${call} failed (errno ${errno})`)
  return Object.assign(err, { errno })
}

function int32(v: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeInt32LE(v)
  return b
}

function sockaddr(host: string, port: number): Buffer {
  const addr = ipToBytes(host)
  if (addr === null)
    throw new PodlinkError('PUNCH_SOCKET', `Cannot bind the punch socket as ${host} is not an IP address`)
  if (addr.length === 4) {
    const sa = Buffer.alloc(16)
    sa.writeUInt16LE(AF_INET, 0)
    sa.writeUInt16BE(port, 2)
    sa.set(addr, 4)
    return sa
  }
  const sa = Buffer.alloc(28)
  sa.writeUInt16LE(AF_INET6, 0)
  sa.writeUInt16BE(port, 2)
  sa.set(addr, 8)
  return sa
}

/**
 * A non-blocking TCP socket with SO_REUSEADDR|SO_REUSEPORT bound to host:port, as a raw fd. The caller must hand
 * it to `new net.Socket({ fd })` and call `connect()` in the same tick (Node starts reading at once; on an
 * unconnected fd that is an unhandled ENOTCONN), or close it with `closeFd`.
 */
export function reuseBoundFd(host: string, port: number): number {
  const family = isIPv4(host) ? AF_INET : AF_INET6
  const fd = socketFn(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) as number
  if (fd < 0) throw sysError('socket()', koffi.errno())
  try {
    for (const opt of [SO_REUSEADDR, SO_REUSEPORT]) {
      if (setsockoptFn(fd, SOL_SOCKET, opt, int32(1), 4) !== 0) throw sysError('setsockopt()', koffi.errno())
    }
    const sa = sockaddr(host, port)
    if (bindFn(fd, sa, sa.length) !== 0) throw sysError(`bind(${host}:${port})`, koffi.errno())
  } catch (err) {
    closeFn(fd)
    throw err
  }
  return fd
}

export function closeFd(fd: number): void {
  closeFn(fd)
}

/**
 * Close with an RST (SO_LINGER {1, 0}): losing punch attempts must not leave TIME_WAIT on the fixed 4-tuple,
 * which would make the next attempt fail with EADDRNOTAVAIL.
 */
export function rstClose(socket: Socket): void {
  // A TLS socket's handle (TLSWrap) reports the fd of the TCP handle under it.
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
  if (typeof fd === 'number' && fd >= 0) {
    const linger = Buffer.alloc(8)
    linger.writeInt32LE(1, 0)
    linger.writeInt32LE(0, 4)
    setsockoptFn(fd, SOL_SOCKET, SO_LINGER, linger, 8)
  }
  socket.destroy()
}
