import { type IpFamily, PodlinkError } from '@podlink/core'
import {
  AF_INET,
  AF_INET6,
  AF_NETLINK,
  intOption,
  libc,
  NETLINK_NETFILTER,
  SO_RCVTIMEO,
  SOCK_CLOEXEC,
  SOCK_RAW,
  SOL_SOCKET,
  sysError,
} from './libc.ts'
import { encodeSockaddr, formatIpv6, type SocketAddress } from './sockaddr.ts'

/**
 * Reads the original destination of a REDIRECTed flow from conntrack: `IPCTNL_MSG_CT_GET` by the reply tuple
 * over a NETLINK_NETFILTER socket (capture.md §2b, ~12 µs a lookup). Synchronous: the kernel answers a GET at
 * once, and a 1 s receive timeout bounds the wait if it ever does not. Needs CAP_NET_ADMIN.
 */
export interface ConntrackLookup {
  /**
   * The original destination of the flow whose reply tuple is `replySrc` -> `replyDst` (for a REDIRECTed datagram:
   * the address it arrived at and our port -> the client as we saw it), or null when conntrack has no such entry.
   */
  originalDst(proto: 'tcp' | 'udp', replySrc: SocketAddress, replyDst: SocketAddress): SocketAddress | null
  close(): void
}

const NFNL_SUBSYS_CTNETLINK = 1
const IPCTNL_MSG_CT_GET = 1
const NLM_F_REQUEST = 1
const NLMSG_ERROR = 2
const NLA_F_NESTED = 0x8000
const CTA_TUPLE_ORIG = 1
const CTA_TUPLE_REPLY = 2
const CTA_TUPLE_IP = 1
const CTA_TUPLE_PROTO = 2
const CTA_IP_V4_SRC = 1
const CTA_IP_V4_DST = 2
const CTA_IP_V6_SRC = 3
const CTA_IP_V6_DST = 4
const CTA_PROTO_NUM = 1
const CTA_PROTO_SRC_PORT = 2
const CTA_PROTO_DST_PORT = 3
const ENOENT = 2
const PROTO_NUMBER = { tcp: 6, udp: 17 } as const

export function createConntrackLookup(): ConntrackLookup {
  const c = libc()
  const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER)
  if (fd < 0) throw sysError('DATAPLANE_SOCKET_FAILED', 'open a NETLINK_NETFILTER socket')
  try {
    const tv = Buffer.alloc(16) // struct timeval on LP64: tv_sec, tv_usec
    tv.writeBigInt64LE(1n, 0)
    if (c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16) !== 0) {
      throw sysError('DATAPLANE_SOCKET_FAILED', 'set SO_RCVTIMEO on the conntrack socket')
    }
    intOption(fd, SOL_SOCKET, 8 /* SO_RCVBUF */, 1 << 16, 'set SO_RCVBUF on the conntrack socket')
  } catch (err) {
    c.close(fd)
    throw err
  }
  const rbuf = Buffer.alloc(8192)
  let seq = 1
  let closed = false

  return {
    originalDst(proto, replySrc, replyDst) {
      if (closed) return null
      const family = replySrc.family
      const mySeq = seq++ & 0x7fffffff
      const msg = encodeCtGet(mySeq, proto, replySrc, replyDst)
      if (Number(c.send(fd, msg, msg.length, 0)) < 0) throw sysError('DATAPLANE_CONNTRACK_FAILED', 'ask conntrack')
      for (;;) {
        const n = Number(c.recv(fd, rbuf, rbuf.length, 0))
        if (n < 0) throw sysError('DATAPLANE_CONNTRACK_FAILED', 'read the conntrack answer')
        // One datagram holds one answer; an answer to an earlier, abandoned request is skipped by its sequence.
        if (n < 20 || rbuf.readUInt32LE(8) !== mySeq) continue
        if (rbuf.readUInt16LE(4) === NLMSG_ERROR) {
          const errno = -rbuf.readInt32LE(16)
          if (errno === ENOENT) return null
          const err = new PodlinkError(
            'DATAPLANE_CONNTRACK_FAILED',
            `Cannot look up a conntrack entry as the kernel answered errno ${errno}`,
          )
          throw Object.assign(err, { errno })
        }
        return parseCtAnswer(rbuf.subarray(0, Math.min(n, rbuf.readUInt32LE(0))), family)
      }
    },
    close() {
      if (closed) return
      closed = true
      c.close(fd)
    },
  }
}

/** `IPCTNL_MSG_CT_GET` for the entry whose reply tuple is `replySrc` -> `replyDst`: nlmsghdr, nfgenmsg, attributes. */
export function encodeCtGet(
  seq: number,
  proto: 'tcp' | 'udp',
  replySrc: SocketAddress,
  replyDst: SocketAddress,
): Buffer {
  const family = replySrc.family
  const [srcType, dstType] = family === 4 ? [CTA_IP_V4_SRC, CTA_IP_V4_DST] : [CTA_IP_V6_SRC, CTA_IP_V6_DST]
  const tuple = attr(
    CTA_TUPLE_REPLY | NLA_F_NESTED,
    attr(CTA_TUPLE_IP | NLA_F_NESTED, attr(srcType, ipBytes(replySrc)), attr(dstType, ipBytes(replyDst))),
    attr(
      CTA_TUPLE_PROTO | NLA_F_NESTED,
      attr(CTA_PROTO_NUM, Buffer.from([PROTO_NUMBER[proto]])),
      attr(CTA_PROTO_SRC_PORT, be16(replySrc.port)),
      attr(CTA_PROTO_DST_PORT, be16(replyDst.port)),
    ),
  )
  const hdr = Buffer.alloc(20) // nlmsghdr (16) + nfgenmsg (4: family, version 0, res_id 0)
  hdr.writeUInt32LE(20 + tuple.length, 0)
  hdr.writeUInt16LE((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET, 4)
  hdr.writeUInt16LE(NLM_F_REQUEST, 6)
  hdr.writeUInt32LE(seq, 8)
  hdr[16] = family === 4 ? AF_INET : AF_INET6
  return Buffer.concat([hdr, tuple])
}

/** The original tuple's destination in a ctnetlink entry message (header included), or null if it has none. */
export function parseCtAnswer(b: Buffer, family: IpFamily): SocketAddress | null {
  const orig = attrs(b, 20, b.length).get(CTA_TUPLE_ORIG)
  if (!orig) return null
  const t = attrs(orig, 0, orig.length)
  const ip = t.get(CTA_TUPLE_IP)
  const pr = t.get(CTA_TUPLE_PROTO)
  if (!ip || !pr) return null
  const d = attrs(ip, 0, ip.length).get(family === 4 ? CTA_IP_V4_DST : CTA_IP_V6_DST)
  const port = attrs(pr, 0, pr.length).get(CTA_PROTO_DST_PORT)
  if (!d || !port || port.length < 2) return null
  const address = family === 4 ? `${d[0]}.${d[1]}.${d[2]}.${d[3]}` : formatIpv6(d)
  return { family, address, port: port.readUInt16BE(0) }
}

function attr(type: number, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload)
  const len = 4 + body.length
  const b = Buffer.alloc((len + 3) & ~3)
  b.writeUInt16LE(len, 0)
  b.writeUInt16LE(type, 2)
  body.copy(b, 4)
  return b
}

function attrs(b: Buffer, start: number, end: number): Map<number, Buffer> {
  const m = new Map<number, Buffer>()
  for (let off = start; off + 4 <= end; ) {
    const len = b.readUInt16LE(off)
    if (len < 4) break
    m.set(b.readUInt16LE(off + 2) & 0x3fff, b.subarray(off + 4, off + len))
    off += (len + 3) & ~3
  }
  return m
}

function ipBytes(a: SocketAddress): Buffer {
  const sa = encodeSockaddr(a.family, a.address, 0)
  return a.family === 4 ? sa.subarray(4, 8) : sa.subarray(8, 24)
}

function be16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n)
  return b
}
