import { describe, expect, it } from 'vitest'
import { encodeCtGet, parseCtAnswer } from './conntrack.ts'

/** A netlink attribute, padded to 4 bytes (test-side builder for kernel answers). */
function nla(type: number, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload)
  const b = Buffer.alloc((4 + body.length + 3) & ~3)
  b.writeUInt16LE(4 + body.length, 0)
  b.writeUInt16LE(type, 2)
  body.copy(b, 4)
  return b
}
const u16 = (n: number) => Buffer.from([n >> 8, n & 255])
const NESTED = 0x8000

/** What the kernel sends for an entry: nlmsghdr, nfgenmsg, then the original and reply tuples. */
function answer(family: 4 | 6, orig: { src: Buffer; dst: Buffer; sport: number; dport: number }): Buffer {
  const [s, d] = family === 4 ? [1, 2] : [3, 4]
  const tuple = (t: typeof orig) =>
    Buffer.concat([
      nla(1 | NESTED, nla(s, t.src), nla(d, t.dst)),
      nla(2 | NESTED, nla(1, Buffer.from([17])), nla(2, u16(t.sport)), nla(3, u16(t.dport))),
    ])
  const body = Buffer.concat([
    nla(1 | NESTED, tuple(orig)),
    nla(2 | NESTED, tuple({ src: orig.dst, dst: orig.src, sport: orig.dport, dport: orig.sport })),
    nla(3, Buffer.from([0, 0, 0, 0x8e])), // CTA_STATUS, ignored
  ])
  const hdr = Buffer.alloc(20)
  hdr.writeUInt32LE(20 + body.length, 0)
  hdr[16] = family === 4 ? 2 : 10
  return Buffer.concat([hdr, body])
}

describe('conntrack messages', () => {
  it('asks by reply tuple exactly as the kernel-verified sketch in capture.md does (IPv4, UDP)', () => {
    const msg = encodeCtGet(
      7,
      'udp',
      { family: 4, address: '10.88.0.1', port: 15002 },
      { family: 4, address: '10.88.0.2', port: 40000 },
    )
    // Bytes from research/capture-code/conntrack-koffi.cjs for the same lookup (it found entries on a real kernel).
    expect(msg.toString('hex')).toBe(
      '48000000010101000700000000000000020000003400028014000180080001000a580001080002000a5800021c00028005000100110000' +
        '00060002003a9a0000060003009c400000',
    )
  })

  it('asks with 16-byte addresses and AF_INET6 for IPv6', () => {
    const msg = encodeCtGet(
      1,
      'udp',
      { family: 6, address: '::1', port: 15002 },
      { family: 6, address: 'fd88::2', port: 5 },
    )
    expect(msg[16]).toBe(10)
    expect(msg.readUInt32LE(0)).toBe(msg.length)
    expect(msg.includes(Buffer.from('fd880000000000000000000000000002', 'hex'))).toBe(true)
  })

  it('reads the original destination of an IPv4 entry', () => {
    const a = answer(4, {
      src: Buffer.from([10, 88, 0, 2]),
      dst: Buffer.from([10, 96, 0, 10]),
      sport: 40000,
      dport: 53,
    })
    expect(parseCtAnswer(a, 4)).toEqual({ family: 4, address: '10.96.0.10', port: 53 })
  })

  it('reads the original destination of an IPv6 entry', () => {
    const a = answer(6, {
      src: Buffer.from('fd880000000000000000000000000002', 'hex'),
      dst: Buffer.from('fd440000000000000000000000000010', 'hex'),
      sport: 40000,
      dport: 5353,
    })
    expect(parseCtAnswer(a, 6)).toEqual({ family: 6, address: 'fd44::10', port: 5353 })
  })

  it('answers null for a message without an original tuple', () => {
    const hdr = Buffer.alloc(20)
    hdr.writeUInt32LE(20, 0)
    expect(parseCtAnswer(hdr, 4)).toBeNull()
  })
})
