/** `podlink ping NODE`: libp2p ping over the connection the mesh would use for a new flow. */
import type { PingEvent } from '@podlink/core'
import type { Mesh, MeshNode } from '@podlink/tunnel'
import { summarisePing } from '../observe/index.ts'

type Probe = Extract<PingEvent, { type: 'reply' | 'lost' }>
const INTERVAL_MS = 1000
const TIMEOUT_MS = 3000

export async function* meshPing(
  node: MeshNode,
  mesh: Mesh,
  target: { node: string; peerId: string },
  count: number,
  signal: AbortSignal,
): AsyncIterable<PingEvent> {
  const probes: Probe[] = []
  for (let seq = 1; seq <= count && !signal.aborted; seq++) {
    const started = performance.now()
    let probe: Probe
    try {
      const attempt = AbortSignal.any([signal, AbortSignal.timeout(TIMEOUT_MS)])
      const conn = await mesh.connectionFor(target.peerId, attempt)
      const rttMs = await node.libp2p.services.ping.ping(conn.remoteAddr, { signal: attempt })
      const peer = mesh.peer(target.peerId)
      probe = {
        type: 'reply',
        seq,
        node: target.node,
        peerId: target.peerId,
        path: peer?.path ?? 'none',
        relay: peer?.relay ?? null,
        addr: conn.remoteAddr.toString(),
        rttMs,
      }
    } catch (err) {
      probe = {
        type: 'lost',
        seq,
        node: target.node,
        reason: err instanceof Error ? err.message.split('\n')[0]! : String(err),
      }
    }
    probes.push(probe)
    yield probe
    const wait = INTERVAL_MS - (performance.now() - started)
    if (seq < count && wait > 0) await new Promise((r) => setTimeout(r, wait))
  }
  yield summarisePing(target.node, probes)
}
