/**
 * A tiny authoritative DNS server for the lab: it answers every A query with one address (by default its own pod
 * IP), so a client can tell which pod answered. Enough of RFC 1035 for c-ares / Node's resolver over UDP: one
 * question, an A answer (or NOTIMP for other types, FORMERR for garbage).
 *   dns-server.ts PORT ANSWER_IP      (run inside a pod's namespace)
 */
import { createSocket } from 'node:dgram'

/** The reply to one query datagram, or null when it is too short to carry an ID. */
export function answerQuery(query: Buffer, answerIp: string): Buffer | null {
  if (query.length < 12) return null
  const id = query.readUInt16BE(0)
  const header = (flags: number, an: number, qd: number): Buffer => {
    const h = Buffer.alloc(12)
    h.writeUInt16BE(id, 0)
    h.writeUInt16BE(flags, 2)
    h.writeUInt16BE(qd, 4)
    h.writeUInt16BE(an, 6)
    return h
  }
  const qdcount = query.readUInt16BE(4)
  // The question: labels up to a zero byte, then type and class.
  let i = 12
  while (i < query.length && query[i] !== 0) i += 1 + query[i]!
  if (qdcount !== 1 || i + 5 > query.length) return header(0x8181, 0, 0) // FORMERR
  const question = query.subarray(12, i + 5)
  const qtype = query.readUInt16BE(i + 1)
  if (qtype !== 1) return Buffer.concat([header(0x8184, 0, 1), question]) // NOTIMP for anything but A
  const answer = Buffer.alloc(16)
  answer.writeUInt16BE(0xc00c, 0) // the name: a pointer to the question's
  answer.writeUInt16BE(1, 2) // A
  answer.writeUInt16BE(1, 4) // IN
  answer.writeUInt32BE(5, 6) // TTL 5 s
  answer.writeUInt16BE(4, 10)
  answerIp.split('.').forEach((octet, n) => {
    answer[12 + n] = Number(octet)
  })
  return Buffer.concat([header(0x8580, 1, 1), question, answer]) // QR AA RD RA, NOERROR
}

if (import.meta.main) {
  const [port, answerIp] = process.argv.slice(2)
  if (!port || !answerIp) {
    console.error('usage: dns-server.ts PORT ANSWER_IP')
    process.exit(2)
  }
  const sock = createSocket('udp4')
  sock.on('message', (msg, rinfo) => {
    const reply = answerQuery(msg, answerIp)
    if (reply) sock.send(reply, rinfo.port, rinfo.address)
  })
  sock.bind(Number(port), () => console.log(`dns ready: udp/${port} answers ${answerIp}`))
}
