import dgram from 'node:dgram'
import { type IpFamily, PodlinkError } from '@podlink/core'
import koffi from 'koffi'
import {
  AF_INET,
  AF_INET6,
  IP_RECVORIGDSTADDR,
  IP_TRANSPARENT,
  IPV6_RECVORIGDSTADDR,
  IPV6_TRANSPARENT,
  intOption,
  libc,
  SHUT_RD,
  SO_MARK,
  SO_REUSEADDR,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOL_IP,
  SOL_IPV6,
  SOL_SOCKET,
  sysError,
} from '../native/libc.ts'
import { encodeSockaddr, parseSockaddr, type SocketAddress } from '../native/sockaddr.ts'
import { DEFAULT_RULESET_OPTIONS } from '../rules/compute-ruleset.ts'

export interface UdpCaptureOptions {
  /** The port TPROXY sends to (`udpPort` of the ruleset). */
  readonly port: number
  readonly family?: IpFamily
  /** Carried by reply sockets so that replies are never captured again. */
  readonly bypassMark?: number
  /** Reply sockets (one per original destination) unused this long are closed. */
  readonly replyIdleMs?: number
}

export interface CapturedDatagram {
  readonly data: Buffer
  readonly src: SocketAddress
  /** Where the client sent it, from IP_ORIGDSTADDR. */
  readonly originalDst: SocketAddress
  /** Sends `buf` to `src` from `originalDst`, so the client sees the address it talked to. */
  reply(buf: Uint8Array): void
}

export interface UdpCapture {
  readonly port: number
  /** Stops reading and closes every socket; resolves once the pending native read has returned. */
  close(): Promise<void>
}

const IPV6_V6ONLY = 26
// struct msghdr on LP64 Linux (x64, arm64): name@0 namelen@8 iov@16 iovlen@24 control@32 controllen@40 flags@48.
const HDR = 56
const IOV = 16
const NAME = 128
const CTRL = 256
const DATA = 65_536

/**
 * The transparent UDP listener. It is read with koffi's `recvmsg.async` (one libuv threadpool thread while a read
 * is pending, ~9k datagrams/s measured) because Node cannot read IP_ORIGDSTADDR. `close()` wakes the blocked read
 * with shutdown(SHUT_RD): a read left pending would hang process exit.
 */
export function createUdpCapture(options: UdpCaptureOptions, onDatagram: (d: CapturedDatagram) => void): UdpCapture {
  if (process.arch !== 'x64' && process.arch !== 'arm64') {
    throw new PodlinkError(
      'DATAPLANE_UNSUPPORTED',
      `Cannot capture UDP as the msghdr layout of ${process.arch} is unknown`,
    )
  }
  const family = options.family ?? 4
  const mark = options.bypassMark ?? DEFAULT_RULESET_OPTIONS.bypassMark
  const idleMs = options.replyIdleMs ?? 60_000
  const c = libc()
  const fd = udpFd(family, { blocking: true, transparent: true, recvOrigDst: true })
  try {
    const sa = encodeSockaddr(family, family === 4 ? '0.0.0.0' : '::', options.port)
    if (c.bind(fd, sa, sa.length) !== 0) throw sysError('DATAPLANE_LISTEN_FAILED', `bind UDP port ${options.port}`)
  } catch (err) {
    c.close(fd)
    throw err
  }

  const replies = new Map<string, { socket: dgram.Socket; used: number }>()
  const replySocket = (dst: SocketAddress): dgram.Socket => {
    const key = `${dst.address}|${dst.port}`
    const have = replies.get(key)
    if (have) {
      have.used = Date.now()
      return have.socket
    }
    // IP_TRANSPARENT lets it bind the non-local original destination; the bypass mark keeps it out of our rules.
    const rfd = udpFd(dst.family, { blocking: false, transparent: true, recvOrigDst: false, mark })
    const sa = encodeSockaddr(dst.family, dst.address, dst.port)
    if (c.bind(rfd, sa, sa.length) !== 0) {
      const err = sysError('DATAPLANE_SOCKET_FAILED', `bind a reply socket to ${dst.address}:${dst.port}`)
      c.close(rfd)
      throw err
    }
    const socket = dgram.createSocket(dst.family === 4 ? 'udp4' : 'udp6')
    socket.bind({ fd: rfd })
    socket.on('error', () => socket.close())
    socket.on('close', () => replies.delete(key))
    replies.set(key, { socket, used: Date.now() })
    return socket
  }
  const sweep = setInterval(
    () => {
      const cutoff = Date.now() - idleMs
      for (const r of replies.values()) if (r.used < cutoff) r.socket.close()
    },
    Math.max(1000, idleMs / 2),
  )
  sweep.unref()

  const mem = koffi.alloc('uint8_t', HDR + IOV + NAME + CTRL + DATA)
  const base = koffi.address(mem)
  const m = Buffer.from(koffi.view(mem, HDR + IOV + NAME + CTRL + DATA))
  const oIov = HDR
  const oName = HDR + IOV
  const oCtrl = oName + NAME
  const oData = oCtrl + CTRL
  m.writeBigUInt64LE(base + BigInt(oName), 0)
  m.writeBigUInt64LE(base + BigInt(oIov), 16)
  m.writeBigUInt64LE(1n, 24)
  m.writeBigUInt64LE(base + BigInt(oCtrl), 32)
  m.writeBigUInt64LE(base + BigInt(oData), oIov)
  m.writeBigUInt64LE(BigInt(DATA), oIov + 8)

  let stopped = false
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => {
    done = resolve
  })
  const finish = () => {
    c.close(fd)
    koffi.free(mem)
    done()
  }
  const next = () => {
    m.writeUInt32LE(NAME, 8)
    m.writeBigUInt64LE(BigInt(CTRL), 40)
    m.writeInt32LE(0, 48)
    c.recvmsgAsync(fd, mem, 0, (err, res) => {
      const n = Number(res)
      if (stopped || err || n < 0) return finish()
      const src = parseSockaddr(m, oName)
      const dst = readOrigDst(m, oCtrl, Number(m.readBigUInt64LE(40)))
      const data = Buffer.from(m.subarray(oData, oData + n)) // copied: the native buffer is reused at once
      next()
      if (!src || !dst) return
      onDatagram({ data, src, originalDst: dst, reply: (buf) => replySocket(dst).send(buf, src.port, src.address) })
    })
  }
  next()

  return {
    port: options.port,
    close: async () => {
      if (!stopped) {
        stopped = true
        clearInterval(sweep)
        c.shutdown(fd, SHUT_RD)
        for (const r of replies.values()) r.socket.close()
      }
      await finished
    },
  }
}

/** Walks the cmsgs for IP_ORIGDSTADDR / IPV6_ORIGDSTADDR (same numbers as the RECV options). */
function readOrigDst(m: Buffer, off: number, len: number): SocketAddress | null {
  for (let p = off; p + 16 <= off + len; ) {
    const clen = Number(m.readBigUInt64LE(p))
    const level = m.readInt32LE(p + 8)
    const type = m.readInt32LE(p + 12)
    if ((level === SOL_IP && type === IP_RECVORIGDSTADDR) || (level === SOL_IPV6 && type === IPV6_RECVORIGDSTADDR)) {
      return parseSockaddr(m, p + 16)
    }
    if (clen < 16) break
    p += (clen + 7) & ~7
  }
  return null
}

function udpFd(
  family: IpFamily,
  o: { blocking: boolean; transparent: boolean; recvOrigDst: boolean; mark?: number },
): number {
  const c = libc()
  const fd = c.socket(
    family === 4 ? AF_INET : AF_INET6,
    SOCK_DGRAM | SOCK_CLOEXEC | (o.blocking ? 0 : SOCK_NONBLOCK),
    0,
  )
  if (fd < 0) throw sysError('DATAPLANE_SOCKET_FAILED', 'create a UDP socket')
  try {
    const level = family === 4 ? SOL_IP : SOL_IPV6
    if (family === 6) intOption(fd, SOL_IPV6, IPV6_V6ONLY, 1, 'set IPV6_V6ONLY')
    if (o.transparent) {
      intOption(
        fd,
        level,
        family === 4 ? IP_TRANSPARENT : IPV6_TRANSPARENT,
        1,
        'set IP_TRANSPARENT (needs CAP_NET_ADMIN)',
      )
    }
    if (o.recvOrigDst) {
      intOption(fd, level, family === 4 ? IP_RECVORIGDSTADDR : IPV6_RECVORIGDSTADDR, 1, 'set IP_RECVORIGDSTADDR')
    }
    if (o.mark) intOption(fd, SOL_SOCKET, SO_MARK, o.mark, 'set SO_MARK')
    intOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, 'set SO_REUSEADDR')
  } catch (err) {
    c.close(fd)
    throw err
  }
  return fd
}
