import { PodlinkError } from '@podlink/core'
import koffi from 'koffi'

/**
 * The few libc calls Node does not offer, through koffi (prebuilt from the npm registry, no compiler needed).
 * Loaded on first use so that importing the package on a machine without glibc (or in pure tests) is free.
 */
export interface Libc {
  socket(domain: number, type: number, protocol: number): number
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number
  getsockopt(fd: number, level: number, name: number, value: Buffer, len: number[]): number
  bind(fd: number, addr: Buffer, len: number): number
  shutdown(fd: number, how: number): number
  close(fd: number): number
  setns(fd: number, nstype: number): number
  send(fd: number, buf: Buffer, len: number, flags: number): number | bigint
  /** Copies what the kernel wrote back into `buf`. */
  recv(fd: number, buf: Buffer, len: number, flags: number): number | bigint
  /** `recvmsg(fd, msghdr, flags)` on the libuv threadpool; `cb(err, bytes)`. */
  recvmsgAsync(fd: number, msg: unknown, flags: number, cb: (err: unknown, n: number | bigint) => void): void
}

export const AF_INET = 2
export const AF_INET6 = 10
export const SOCK_STREAM = 1
export const SOCK_DGRAM = 2
export const SOCK_NONBLOCK = 0o4000
export const SOCK_CLOEXEC = 0o2000000
export const SOL_SOCKET = 1
export const SO_REUSEADDR = 2
export const SO_MARK = 36
export const SOL_IP = 0
export const SOL_IPV6 = 41
export const SO_ORIGINAL_DST = 80
export const IP6T_SO_ORIGINAL_DST = 80
export const IP_TRANSPARENT = 19
export const IP_RECVORIGDSTADDR = 20
export const IPV6_TRANSPARENT = 75
export const IPV6_RECVORIGDSTADDR = 74
export const SHUT_RD = 0
export const SO_RCVTIMEO = 20
export const AF_NETLINK = 16
export const SOCK_RAW = 3
export const NETLINK_NETFILTER = 12

let loaded: Libc | null = null

export function libc(): Libc {
  if (loaded) return loaded
  const lib = koffi.load('libc.so.6')
  const recvmsg = lib.func('intptr_t recvmsg(int, void *msg, int flags)')
  loaded = {
    socket: lib.func('int socket(int, int, int)'),
    setsockopt: lib.func('int setsockopt(int, int, int, const void *, uint32_t)'),
    getsockopt: lib.func('int getsockopt(int, int, int, _Out_ uint8_t *val, _Inout_ uint32_t *len)'),
    bind: lib.func('int bind(int, const void *addr, uint32_t len)'),
    shutdown: lib.func('int shutdown(int, int)'),
    close: lib.func('int close(int)'),
    setns: lib.func('int setns(int, int)'),
    send: lib.func('intptr_t send(int, const void *, size_t, int)'),
    recv: lib.func('intptr_t recv(int, _Out_ uint8_t *buf, size_t, int)'),
    recvmsgAsync: (fd, msg, flags, cb) => recvmsg.async(fd, msg, flags, cb),
  }
  strerror = lib.func('const char *strerror(int)')
  return loaded
}

let strerror: ((errno: number) => string) | null = null

/** The error for a failed libc call, read from errno right after it. */
export function sysError(code: string, action: string): PodlinkError {
  const errno = koffi.errno()
  const text = strerror ? strerror(errno) : `errno ${errno}`
  const err = new PodlinkError(code, `Cannot ${action} as ${text} (errno ${errno})`)
  return Object.assign(err, { errno })
}

export function intOption(fd: number, level: number, name: number, value: number, action: string): void {
  const b = Buffer.alloc(4)
  b.writeInt32LE(value)
  if (libc().setsockopt(fd, level, name, b, 4) !== 0) throw sysError('DATAPLANE_SOCKET_FAILED', action)
}
