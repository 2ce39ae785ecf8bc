import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerStore } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { createTunnelNode, type TunnelNode } from './create-tunnel-node.ts'
import {
  libp2pLoggerOption,
  PROTOCOL_MERGE_TTL_MS,
  quietLogger,
  skipRepeatedProtocolMerges,
} from './stream-overheads.ts'

const started: TunnelNode[] = []
afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()))
})

async function node(): Promise<TunnelNode> {
  const n = await createTunnelNode(
    { listen: ['/ip4/127.0.0.1/tcp/0'], publicRanges: ['127.0.0.0/8'] },
    { privateKey: await generateKeyPair('Ed25519') },
  )
  started.push(n)
  return n
}

const somePeer = async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))

/**
 * A real libp2p peer store with the skip installed over a counter of the merges that reach the store. (A node made
 * by createTunnelNode has the skip already; it is installed again here over the counter, which only adds a layer.)
 */
async function countedStore(now: () => number): Promise<{ store: PeerStore; reached: () => number }> {
  const store = (await node()).libp2p.peerStore
  let reached = 0
  const merge = store.merge.bind(store)
  store.merge = (...args) => {
    reached++
    return merge(...args)
  }
  skipRepeatedProtocolMerges(store, now)
  return { store, reached: () => reached }
}

describe('quietLogger', () => {
  it('prints nothing, reports itself disabled and hands itself out as every scope', () => {
    const log = quietLogger().forComponent('libp2p:yamux')
    expect(log.enabled).toBe(false)
    expect(log.newScope('stream:1')).toBe(log)
    expect(() => {
      log('x %s', 1)
      log.error(new Error('e'))
      log.trace('t')
    }).not.toThrow()
  })

  it("is used unless DEBUG asks for libp2p's own output", () => {
    expect(libp2pLoggerOption({}).logger).toBeDefined()
    expect(libp2pLoggerOption({ DEBUG: '' }).logger).toBeDefined()
    expect(libp2pLoggerOption({ DEBUG: 'libp2p:*' })).toEqual({})
  })
})

describe('skipRepeatedProtocolMerges on a real peer store', () => {
  it('answers a repeated protocols-only merge without reaching the store, and the store keeps the protocol', async () => {
    const { store, reached } = await countedStore(Date.now)
    const peer = await somePeer()
    const first = await store.merge(peer, { protocols: ['/podlink/flow/1'] })
    expect(first.protocols).toEqual(['/podlink/flow/1'])
    for (let i = 0; i < 5; i++) expect(await store.merge(peer, { protocols: ['/podlink/flow/1'] })).toBe(first)
    expect(reached()).toBe(1)
    expect((await store.get(peer)).protocols).toEqual(['/podlink/flow/1'])
    // A protocol not merged yet goes through, and both are kept.
    await store.merge(peer, { protocols: ['/ipfs/ping/1.0.0'] })
    expect(reached()).toBe(2)
    expect((await store.get(peer)).protocols.sort()).toEqual(['/ipfs/ping/1.0.0', '/podlink/flow/1'])
  })

  it('forgets a peer on any other write: a patch that dropped the protocol is merged back', async () => {
    const { store, reached } = await countedStore(Date.now)
    const peer = await somePeer()
    await store.merge(peer, { protocols: ['/podlink/flow/1'] })
    await store.patch(peer, { protocols: ['/ipfs/id/1.0.0'] })
    expect((await store.get(peer)).protocols).toEqual(['/ipfs/id/1.0.0'])
    await store.merge(peer, { protocols: ['/podlink/flow/1'] })
    expect(reached()).toBe(2)
    expect((await store.get(peer)).protocols.sort()).toEqual(['/ipfs/id/1.0.0', '/podlink/flow/1'])
    // delete, then merge: the record is made again
    await store.delete(peer)
    await store.merge(peer, { protocols: ['/podlink/flow/1'] })
    expect(reached()).toBe(3)
    expect((await store.get(peer)).protocols).toEqual(['/podlink/flow/1'])
  })

  it('never skips a merge of anything but protocols, and asks the store again after the TTL', async () => {
    let now = 1_000_000
    const { store, reached } = await countedStore(() => now)
    const peer = await somePeer()
    await store.merge(peer, { protocols: ['/p/1'] })
    await store.merge(peer, { protocols: ['/p/1'], tags: { x: { value: 1 } } })
    expect(reached()).toBe(2)
    await store.merge(peer, { protocols: ['/p/1'] })
    expect(reached()).toBe(3)
    await store.merge(peer, { protocols: ['/p/1'] })
    expect(reached()).toBe(3)
    now += PROTOCOL_MERGE_TTL_MS
    await store.merge(peer, { protocols: ['/p/1'] })
    expect(reached()).toBe(4)
  })

  it('does not cache a merge that raced another write to the store', async () => {
    const { store, reached } = await countedStore(Date.now)
    const peer = await somePeer()
    const merging = store.merge(peer, { protocols: ['/p/1'] })
    const patching = store.patch(peer, { metadata: { note: new Uint8Array([1]) } })
    await Promise.all([merging, patching])
    await store.merge(peer, { protocols: ['/p/1'] })
    expect(reached()).toBe(2)
    const after = await store.get(peer)
    expect(after.protocols).toEqual(['/p/1'])
    expect(after.metadata.get('note')).toEqual(new Uint8Array([1]))
  })

  it('between two nodes, each stream still leaves its protocol in both peer stores', async () => {
    const a = await node()
    const b = await node()
    await a.setMembers([b.peerId])
    await b.setMembers([a.peerId])
    await b.libp2p.handle('/test/echo/1', async (s) => {
      await s.close()
    })
    for (let i = 0; i < 3; i++) {
      const s = await a.libp2p.dialProtocol(b.libp2p.getMultiaddrs(), '/test/echo/1', {
        signal: AbortSignal.timeout(5000),
      })
      await s.close()
    }
    await expect.poll(async () => (await a.libp2p.peerStore.get(b.libp2p.peerId)).protocols).toContain('/test/echo/1')
    await expect.poll(async () => (await b.libp2p.peerStore.get(a.libp2p.peerId)).protocols).toContain('/test/echo/1')
  })
})
