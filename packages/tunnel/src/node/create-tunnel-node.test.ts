import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { KEEPALIVE_IDLE_MS } from '@podlink/core'
import { keepaliveTimersMs } from '@podlink/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { createTunnelNode, type PeerRefusal, type TunnelNode, type TunnelNodeOptions } from './create-tunnel-node.ts'
import { generateSwarmKey } from './swarm-key.ts'

/** Loopback counts as public here so the nodes announce (and can be dialled on) 127.0.0.1. */
const base: TunnelNodeOptions = { listen: ['/ip4/127.0.0.1/tcp/0'], publicRanges: ['127.0.0.0/8'] }
const started: TunnelNode[] = []

async function node(options: TunnelNodeOptions = {}): Promise<TunnelNode> {
  const n = await createTunnelNode({ ...base, ...options }, { privateKey: await generateKeyPair('Ed25519') })
  started.push(n)
  return n
}

async function pair(a: TunnelNodeOptions = {}, b: TunnelNodeOptions = {}): Promise<[TunnelNode, TunnelNode]> {
  const x = await node(a)
  const y = await node(b)
  await x.setMembers([y.peerId])
  await y.setMembers([x.peerId])
  return [x, y]
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()))
})

describe('createTunnelNode', () => {
  it('connects members over tls + yamux, identify and ping work', async () => {
    const [a, b] = await pair()
    const conn = await a.libp2p.dial(b.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5000) })
    expect(conn.encryption).toBe('/tls/1.0.0')
    expect(conn.multiplexer).toBe('/yamux/1.0.0')
    const rtt = await a.libp2p.services.ping.ping(b.libp2p.peerId, { signal: AbortSignal.timeout(5000) })
    expect(rtt).toBeGreaterThanOrEqual(0)
    await expect
      .poll(async () => (await a.libp2p.peerStore.get(b.libp2p.peerId)).protocols)
      .toContain('/ipfs/ping/1.0.0')
  })

  it('falls back to noise when the peer only speaks noise', async () => {
    const [a, b] = await pair({}, { encrypters: ['noise'] })
    const conn = await a.libp2p.dial(b.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5000) })
    expect(conn.encryption).toBe('/noise')
  })

  it('refuses a non-member before any stream, and refuses to dial one', async () => {
    const member = await node()
    const stranger = await node()
    await stranger.setMembers([member.peerId]) // the stranger would accept; the member does not know it
    const handled: Stream[] = []
    await member.libp2p.handle('/test/echo/1', (s) => {
      handled.push(s)
    })
    const opened: string[] = []
    member.libp2p.addEventListener('connection:open', (e) => opened.push(e.detail.remotePeer.toString()))
    await expect(
      stranger.libp2p.dialProtocol(member.libp2p.getMultiaddrs(), '/test/echo/1', {
        signal: AbortSignal.timeout(5000),
      }),
    ).rejects.toThrow()
    await expect(
      member.libp2p.dial(stranger.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5000) }),
    ).rejects.toThrow()
    expect(opened).toEqual([])
    expect(handled).toEqual([])
    expect(member.libp2p.getConnections()).toEqual([])
  })

  it('reports each inbound refusal: a peer on no Node by its ID, a wrong swarm key; never its own refused dials', async () => {
    const key = generateSwarmKey()
    const refusals: string[] = []
    const onRefused = (r: PeerRefusal): void => {
      refusals.push(r.reason === 'not-a-member' ? `${r.reason} ${r.peer}` : r.reason)
    }
    const member = await node({ psk: { key }, onRefused })
    const stranger = await node({ psk: { key } })
    await stranger.setMembers([member.peerId])
    // The dialler may see its connection open for a moment before the member's gater closes it.
    const dialTo = (from: TunnelNode) =>
      from.libp2p.dial(member.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5000) }).then(
        () => 'opened',
        () => 'refused',
      )
    await dialTo(stranger)
    await expect.poll(() => refusals.join(',')).toBe(`not-a-member ${stranger.peerId}`)
    const wrongKey = await node({ psk: { key: generateSwarmKey() } })
    await wrongKey.setMembers([member.peerId])
    await member.setMembers([wrongKey.peerId])
    expect(await dialTo(wrongKey)).toBe('refused')
    await expect.poll(() => refusals.length).toBe(2)
    expect(refusals[1]).toBe('wrong-psk')
    // Our own dial to a non-member is refused too, but it is not an attack on us: not reported.
    const own = await member.libp2p.dial(stranger.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5000) }).then(
      () => 'opened',
      () => 'refused',
    )
    expect(own).toBe('refused')
    expect(refusals.length).toBe(2)
    expect(member.libp2p.getConnections().length).toBe(0)
  })

  // A NAT router that forgets its mappings leaves the far end reset and the idle near end unaware: both ends
  // probe after KEEPALIVE_IDLE_MS idle (ss shows each socket's keepalive timer), not after the kernel's 2 hours.
  it('keeps mesh connections alive by TCP probes after 5 s idle, on both ends', async () => {
    const [a, b] = await pair()
    await a.libp2p.dial(b.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5000) })
    const port = b.libp2p
      .getMultiaddrs()[0]!
      .getComponents()
      .find((c) => c.name === 'tcp')!.value!
    const timers = () => keepaliveTimersMs(`( sport = :${port} or dport = :${port} )`)
    await expect.poll(() => timers().length).toBe(2)
    for (const ms of timers()) expect(ms).toBeLessThanOrEqual(KEEPALIVE_IDLE_MS)
  })

  it('closes connections to peers dropped from the member set', async () => {
    const [a, b] = await pair()
    await a.libp2p.dial(b.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5000) })
    await a.setMembers([])
    expect(a.libp2p.getConnections()).toEqual([])
    expect(a.isMember(b.peerId)).toBe(false)
  })

  for (const mode of ['pnet', 'proof'] as const) {
    it(`${mode}: same swarm key connects, a different one is refused`, async () => {
      const key = generateSwarmKey()
      const [a, b] = await pair({ psk: { key, mode } }, { psk: { key, mode } })
      const conn = await a.libp2p.dial(b.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5000) })
      expect(conn.remotePeer.toString()).toBe(b.peerId)
      const [c, d] = await pair({ psk: { key, mode } }, { psk: { key: generateSwarmKey(), mode } })
      await expect(c.libp2p.dial(d.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5000) })).rejects.toThrow()
      expect(d.libp2p.getConnections()).toEqual([])
    })
  }

  it('never announces loopback or LAN addresses unless listed as public', async () => {
    const n = await node({
      listen: ['/ip4/127.0.0.1/tcp/0'],
      publicRanges: [],
      announce: ['/ip4/203.0.113.21/tcp/4001'],
    })
    expect(n.libp2p.getMultiaddrs().map((m) => m.toString())).toEqual([])
    const lab = await node({
      listen: ['/ip4/127.0.0.1/tcp/0'],
      publicRanges: ['203.0.113.0/24'],
      announce: ['/ip4/203.0.113.21/tcp/4001'],
    })
    expect(lab.libp2p.getMultiaddrs().map((m) => m.toString().split('/p2p/')[0])).toEqual([
      '/ip4/203.0.113.21/tcp/4001',
    ])
  })
})
