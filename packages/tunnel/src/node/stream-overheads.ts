import type { ComponentLogger, Logger, PeerId, PeerStore } from '@libp2p/interface'

/**
 * Two costs libp2p pays on every stream it opens or accepts, that is on every flow the mesh carries when the fast
 * channel has no socket ready (measured in the bench lab under `rr-load conn`, 2000 connections 8 at a time: about
 * 1.4 ms of agent CPU per flow on each side, where haproxy needs a tenth of that).
 */

const noop = (): void => {}

/**
 * A logger that writes nothing. libp2p's default logger makes a `debug` instance per scope, and the muxer, the
 * connection and protocol selection each open a scope per stream: ~7.5 µs each here, plus an isatty() (an ioctl and
 * an fstat) per instance, 3.6 per flow on the entry agent (strace -c), to print nothing when DEBUG is unset.
 */
export function quietLogger(): ComponentLogger {
  const logger: Logger = Object.assign((_formatter: unknown, ..._args: unknown[]) => {}, {
    error: noop,
    trace: noop,
    enabled: false,
    newScope: (): Logger => logger,
  })
  return { forComponent: () => logger }
}

/** libp2p's own logger when DEBUG asks for its output, else the quiet one. */
export function libp2pLoggerOption(env: NodeJS.ProcessEnv = process.env): { logger?: ComponentLogger } {
  return env['DEBUG'] !== undefined && env['DEBUG'] !== '' ? {} : { logger: quietLogger() }
}

/** How long a protocol merged into a peer's record is taken as still there. */
export const PROTOCOL_MERGE_TTL_MS = 10_000

/**
 * libp2p merges the stream's protocol into the peer store each time a stream is negotiated, on both sides
 * (connection.ts: "the peer store should ensure that the peer is registered with that protocol"): a datastore read,
 * a protobuf decode and encode, a compare, under the store's write lock, for a fact that does not change from one
 * flow to the next. This answers a merge of protocols only, all of them merged for that peer within
 * PROTOCOL_MERGE_TTL_MS, with the record the last real merge returned, without touching the store. Any other write
 * to the store (patch, save, delete, a merge of anything else, a consumed peer record) forgets what was cached for
 * that peer (for all peers when the peer is not known up front), so the answer is never older than the store, and
 * the TTL bounds it even against the store expiring records on its own.
 */
export function skipRepeatedProtocolMerges(peerStore: PeerStore, now: () => number = Date.now): void {
  interface Known {
    readonly protocols: Set<string>
    readonly at: number
    readonly peer: Awaited<ReturnType<PeerStore['merge']>>
  }
  const known = new Map<string, Known>()
  // Bumped by every other write: a merge that raced one (its result may predate that write) is not cached.
  let generation = 0
  const merge = peerStore.merge.bind(peerStore)
  const forget = (peerId: PeerId | undefined): void => {
    generation++
    if (peerId === undefined) known.clear()
    else known.delete(peerId.toString())
  }
  peerStore.merge = async (peerId, data, options) => {
    const keys = Object.keys(data)
    const protocolsOnly = keys.length === 1 && keys[0] === 'protocols' && Array.isArray(data.protocols)
    const key = peerId.toString()
    if (protocolsOnly) {
      const entry = known.get(key)
      if (entry !== undefined && now() - entry.at < PROTOCOL_MERGE_TTL_MS) {
        if (data.protocols!.every((p) => entry.protocols.has(p))) return entry.peer
      }
    }
    if (!protocolsOnly) forget(peerId)
    const started = generation
    const peer = await merge(peerId, data, options)
    if (protocolsOnly && generation === started) known.set(key, { protocols: new Set(peer.protocols), at: now(), peer })
    return peer
  }
  for (const method of ['patch', 'save', 'delete'] as const) {
    const original = (peerStore[method] as (...args: unknown[]) => Promise<unknown>).bind(peerStore)
    ;(peerStore as unknown as Record<string, unknown>)[method] = (peerId: PeerId, ...rest: unknown[]) => {
      forget(peerId)
      return original(peerId, ...rest)
    }
  }
  const consume = peerStore.consumePeerRecord.bind(peerStore)
  peerStore.consumePeerRecord = (...args: Parameters<PeerStore['consumePeerRecord']>) => {
    forget(undefined)
    return consume(...args)
  }
}
