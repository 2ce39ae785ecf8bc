import type { FlowChannel, FlowStatus, L4Protocol, PathKind } from '@podlink/core'
import { PodlinkError } from '@podlink/core'
import type { Timers } from '../stream/flow-stream.ts'

export interface FlowInfo {
  readonly protocol: L4Protocol
  /** Client address as captured, `ip:port`. */
  readonly source: string
  /** Original destination, `ip:port`. */
  readonly destination: string
  /** The endpoint chosen (or the destination itself), `ip:port`; updated when a retry picks another. */
  endpoint: string
  readonly service: string | null
  /** Peer ID of the other agent; '' for a flow this node dials directly (local or same-LAN endpoint). */
  peer: string
  path: PathKind
  /** Set once the flow's stream is open: a libp2p stream or a fast socket; null (or absent) for a direct one. */
  channel?: FlowChannel | null
}

/** Bytes of one flow as this node sees them: tx towards the peer (or pod), rx from it. */
export interface FlowCounters {
  readonly txBytes: number
  readonly rxBytes: number
}

export interface PeerFlowTotals {
  readonly flows: number
  readonly txBytes: number
  readonly rxBytes: number
}

export interface TrackedFlow {
  readonly id: string
  readonly info: FlowInfo
  /** Where the live byte counts come from; set once the flow carries bytes. */
  counters: () => FlowCounters
  /** Stop tracking; its bytes move to its peer's totals. Idempotent. */
  close(): void
}

export interface FlowRegistryOptions {
  /** Flows tracked (and so open) at once on this node; `open` throws PROXY_TOO_MANY_FLOWS past it. Default 16384. */
  readonly maxFlows?: number
  /** Peers whose totals are kept; the least recently active idle peer is dropped past it. Default 4096. */
  readonly maxPeers?: number
}

const NO_BYTES: FlowCounters = { txBytes: 0, rxBytes: 0 }

/** The open flows (for AgentStatus.flows) and per-peer totals (for PeerStatus and metrics), both bounded. */
export class FlowRegistry {
  readonly #timers: Pick<Timers, 'now'>
  readonly #maxFlows: number
  readonly #maxPeers: number
  readonly #flows = new Map<string, { flow: TrackedFlow; startedAt: number }>()
  readonly #closed = new Map<string, { flows: number; txBytes: number; rxBytes: number }>()
  #seq = 0

  constructor(options: FlowRegistryOptions, timers: Pick<Timers, 'now'>) {
    this.#timers = timers
    this.#maxFlows = options.maxFlows ?? 16_384
    this.#maxPeers = options.maxPeers ?? 4096
  }

  get size(): number {
    return this.#flows.size
  }

  /** Track a new flow. Throws PodlinkError PROXY_TOO_MANY_FLOWS when the node holds maxFlows already. */
  open(info: FlowInfo): TrackedFlow {
    if (this.#flows.size >= this.#maxFlows) {
      throw new PodlinkError(
        'PROXY_TOO_MANY_FLOWS',
        `Cannot open a flow to ${info.destination} as ${this.#maxFlows} flows are open`,
      )
    }
    const id = `${info.protocol}-${(++this.#seq).toString(36)}`
    const flow: TrackedFlow = {
      id,
      info,
      counters: () => NO_BYTES,
      close: () => {
        const held = this.#flows.get(id)
        if (held === undefined) return
        this.#flows.delete(id)
        const c = held.flow.counters()
        const key = held.flow.info.peer
        const t = this.#closed.get(key) ?? { flows: 0, txBytes: 0, rxBytes: 0 }
        this.#closed.delete(key)
        this.#closed.set(key, { flows: t.flows + 1, txBytes: t.txBytes + c.txBytes, rxBytes: t.rxBytes + c.rxBytes })
        if (this.#closed.size > this.#maxPeers) this.#closed.delete(this.#closed.keys().next().value!)
      },
    }
    this.#flows.set(id, { flow, startedAt: this.#timers.now() })
    return flow
  }

  /** The open flows, oldest first, at most `limit` of them. */
  list(limit = Number.POSITIVE_INFINITY): FlowStatus[] {
    const out: FlowStatus[] = []
    for (const { flow, startedAt } of this.#flows.values()) {
      if (out.length >= limit) break
      const c = flow.counters()
      out.push({
        id: flow.id,
        protocol: flow.info.protocol,
        source: flow.info.source,
        destination: flow.info.destination,
        endpoint: flow.info.endpoint,
        service: flow.info.service,
        peer: flow.info.peer,
        path: flow.info.path,
        channel: flow.info.channel ?? null,
        txBytes: c.txBytes,
        rxBytes: c.rxBytes,
        startedAt: new Date(startedAt).toISOString(),
      })
    }
    return out
  }

  /** Per peer ('' = direct flows): open flows now, and bytes of open and closed flows since start. */
  peers(): Map<string, PeerFlowTotals> {
    const out = new Map<string, { flows: number; txBytes: number; rxBytes: number }>()
    for (const [peer, t] of this.#closed) out.set(peer, { flows: 0, txBytes: t.txBytes, rxBytes: t.rxBytes })
    for (const { flow } of this.#flows.values()) {
      const c = flow.counters()
      const t = out.get(flow.info.peer) ?? { flows: 0, txBytes: 0, rxBytes: 0 }
      out.set(flow.info.peer, { flows: t.flows + 1, txBytes: t.txBytes + c.txBytes, rxBytes: t.rxBytes + c.rxBytes })
    }
    return out
  }
}
