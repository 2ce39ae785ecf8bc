import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { createMeshNode, MESH_STREAMS_PER_CONNECTION, type MeshNode } from './create-mesh-node.ts'

const started: MeshNode[] = []
afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()))
})

async function meshNode(): Promise<MeshNode> {
  const n = await createMeshNode(
    { listen: ['/ip4/127.0.0.1/tcp/0'], publicRanges: ['127.0.0.0/8'] },
    { privateKey: await generateKeyPair('Ed25519') },
  )
  started.push(n)
  return n
}

/** Above the agent's per-peer flow limit (1,024), so that the limit, not the muxer, is what a flood meets. */
const PAST_THE_FLOW_LIMIT = 1100

describe('createMeshNode', () => {
  it(`carries ${PAST_THE_FLOW_LIMIT} streams on one connection, both ways (yamux's default stops at 1,000)`, async () => {
    expect(MESH_STREAMS_PER_CONNECTION).toBeGreaterThan(PAST_THE_FLOW_LIMIT)
    const [a, b] = [await meshNode(), await meshNode()]
    await a.setMembers([b.peerId])
    await b.setMembers([a.peerId])
    const held: Stream[] = []
    const limits = { maxInboundStreams: 4096, maxOutboundStreams: 4096 }
    await b.libp2p.handle('/test/hold/1', (s) => void held.push(s), limits)
    const conn = await a.libp2p.dial(b.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5000) })
    const opened = await Promise.allSettled(
      Array.from({ length: PAST_THE_FLOW_LIMIT }, () =>
        conn.newStream('/test/hold/1', { ...limits, signal: AbortSignal.timeout(20_000) }),
      ),
    )
    const failed = opened.filter((o) => o.status === 'rejected').map((o) => String(o.reason))
    expect([...new Set(failed)]).toEqual([])
    await expect.poll(() => held.length, { timeout: 10_000 }).toBe(PAST_THE_FLOW_LIMIT)
    expect(a.libp2p.getConnections(b.libp2p.peerId)).toHaveLength(1)
  }, 30_000)
})
