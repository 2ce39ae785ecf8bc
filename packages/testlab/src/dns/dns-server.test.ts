import { createSocket } from 'node:dgram'
import { Resolver } from 'node:dns/promises'
import { describe, expect, it } from 'vitest'
import { answerQuery } from './dns-server.ts'

describe('the lab DNS server', () => {
  it("answers Node's resolver with its address, over UDP on loopback", async () => {
    const sock = createSocket('udp4')
    sock.on('message', (msg, r) => {
      const reply = answerQuery(msg, '10.244.3.2')
      if (reply) sock.send(reply, r.port, r.address)
    })
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r))
    try {
      const resolver = new Resolver({ timeout: 2000, tries: 1 })
      resolver.setServers([`127.0.0.1:${sock.address().port}`])
      expect(await resolver.resolve4('whoami.podlink.test')).toEqual(['10.244.3.2'])
      await expect(resolver.resolveTxt('whoami.podlink.test')).rejects.toMatchObject({ code: 'ENOTIMP' })
    } finally {
      sock.close()
    }
  })

  it('refuses garbage: FORMERR for a broken question, nothing for a short datagram', () => {
    expect(answerQuery(Buffer.alloc(5), '1.2.3.4')).toBeNull()
    const bad = Buffer.alloc(14)
    bad.writeUInt16BE(7, 0)
    bad.writeUInt16BE(1, 4)
    bad[12] = 60 // a label longer than the datagram
    const reply = answerQuery(bad, '1.2.3.4')!
    expect(reply.readUInt16BE(0)).toBe(7)
    expect(reply.readUInt16BE(2) & 0xf).toBe(1)
  })
})
