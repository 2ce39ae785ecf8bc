import type { ServiceEntry } from '@podlink/core'
import type { Timers } from '../stream/flow-stream.ts'
import { type EndpointPick, endpointId, pickEndpoint } from './pick-endpoint.ts'

export interface EndpointBalancerOptions {
  /** This node's name. */
  readonly self: string
  readonly zone?: string | null
  /** Affinity records kept at most (oldest dropped first): a flood of client IPs cannot grow memory. Default 65536. */
  readonly maxAffinityEntries?: number
  /** How long an endpoint that failed a flow is tried last by other flows. Default 10 s, a few connect timeouts. */
  readonly failurePenaltyMs?: number
  /** Penalised endpoints remembered at most. Default 4096. */
  readonly maxPenalized?: number
}

/** Round-robin counters, the ClientIP affinity table and recent failures, around the pure `pickEndpoint`. */
export class EndpointBalancer {
  readonly #self: string
  readonly #zone: string | null
  readonly #timers: Pick<Timers, 'now'>
  readonly #maxAffinity: number
  readonly #penaltyMs: number
  readonly #maxPenalized: number
  /** Per entry key; Map order is insertion order, so the first key is the least recently used. */
  readonly #cursors = new Map<string, number>()
  readonly #affinity = new Map<string, { endpoint: string; lastUsed: number }>()
  readonly #penalized = new Map<string, number>()

  constructor(options: EndpointBalancerOptions, timers: Pick<Timers, 'now'>) {
    this.#self = options.self
    this.#zone = options.zone ?? null
    this.#timers = timers
    this.#maxAffinity = options.maxAffinityEntries ?? 65_536
    this.#penaltyMs = options.failurePenaltyMs ?? 10_000
    this.#maxPenalized = options.maxPenalized ?? 4096
  }

  /** Pick for a new flow from `clientIP`, skipping `failed` (this flow's failures); records affinity and advances. */
  pick(entry: ServiceEntry, clientIP: string, failed: ReadonlySet<string> = new Set()): EndpointPick | null {
    const now = this.#timers.now()
    const key = entryKey(entry)
    const affKey = `${key}|${clientIP}`
    const sticky = entry.sessionAffinity === 'ClientIP'
    const cursor = this.#cursors.get(key) ?? 0
    const pick = pickEndpoint(entry, {
      clientIP,
      self: this.#self,
      zone: this.#zone,
      now,
      failed,
      penalized: this.#activePenalties(now),
      cursor,
      affinity: sticky ? (this.#affinity.get(affKey) ?? null) : null,
    })
    if (pick === null) return null
    if (pick.by === 'round-robin') touch(this.#cursors, key, cursor + 1, this.#maxAffinity)
    if (sticky) touch(this.#affinity, affKey, { endpoint: endpointId(pick.endpoint), lastUsed: now }, this.#maxAffinity)
    return pick
  }

  /** Refresh a client's affinity at the end of its flow: the timeout runs from the last use, not the first. */
  touch(entry: ServiceEntry, clientIP: string): void {
    const affKey = `${entryKey(entry)}|${clientIP}`
    const rec = this.#affinity.get(affKey)
    if (rec !== undefined) touch(this.#affinity, affKey, { ...rec, lastUsed: this.#timers.now() }, this.#maxAffinity)
  }

  /** An endpoint failed a flow: other flows try it last for a while. */
  reportFailure(endpoint: { readonly ip: string; readonly port: number }): void {
    touch(this.#penalized, endpointId(endpoint), this.#timers.now() + this.#penaltyMs, this.#maxPenalized)
  }

  get affinityEntries(): number {
    return this.#affinity.size
  }

  #activePenalties(now: number): ReadonlySet<string> {
    const out = new Set<string>()
    for (const [id, until] of this.#penalized) {
      if (until <= now) this.#penalized.delete(id)
      else out.add(id)
    }
    return out
  }
}

function entryKey(entry: ServiceEntry): string {
  return `${entry.clusterIP}|${entry.port}|${entry.protocol}`
}

/** Set as most recently used, dropping the least recently used past `max`. */
function touch<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key)
  map.set(key, value)
  if (map.size > max) map.delete(map.keys().next().value!)
}
