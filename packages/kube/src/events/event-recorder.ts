import { type AbortOptions, type Clock, type Logger, silentLogger, systemClock } from '@podlink/core'
import { KubeApiError, type KubeWriter } from '../kube-writer.ts'
import { TokenBucket } from './token-bucket.ts'

export interface NodeEvent {
  /** The Node the Event is about. */
  readonly node: string
  readonly type: 'Normal' | 'Warning'
  /** UpperCamelCase, e.g. `PodCIDRConflict`. */
  readonly reason: string
  readonly message: string
}

export type RecordOutcome = 'created' | 'counted' | 'dropped' | 'failed'

export interface EventRecorderOptions {
  /** This agent's node name (`reportingInstance`, `source.host`). */
  readonly instance: string
  /** Node Events live in `default`, as kubelet's do. */
  readonly namespace?: string
  /** A repeat within this window bumps `count` on the existing Event. Default 10 min (client-go's). */
  readonly dedupeWindowMs?: number
  /** Writes allowed at once. Default 25 (client-go's spam filter burst). */
  readonly burst?: number
  /** One more write per this many ms. Default 10 s. */
  readonly refillMs?: number
}

export interface EventRecorderDeps {
  readonly writer: Pick<KubeWriter, 'createEvent' | 'patchEventCount'>
  readonly clock?: Clock
  readonly logger?: Logger
}

interface Recorded {
  name: string
  count: number
  lastAt: number
}

export const REPORTING_COMPONENT = 'podlink-agent'

/**
 * Records core/v1 Events on Nodes. Guarantees: an Event identical in node, type, reason and
 * message to one recorded within `dedupeWindowMs` increments that Event's `count` instead of
 * creating another; writes (creates and counts) beyond the token bucket are dropped and counted,
 * so a flapping condition cannot flood the API; `record` never throws (Events are advisory), it
 * reports what happened.
 */
export class EventRecorder {
  readonly #options: EventRecorderOptions
  readonly #writer: EventRecorderDeps['writer']
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #bucket: TokenBucket
  readonly #recent = new Map<string, Recorded>()
  /** Records of one key run one after another, so a repeat waits for the create it repeats. */
  readonly #queues = new Map<string, Promise<RecordOutcome>>()
  dropped = 0

  constructor(options: EventRecorderOptions, deps: EventRecorderDeps) {
    this.#options = options
    this.#writer = deps.writer
    this.#clock = deps.clock ?? systemClock
    this.#logger = deps.logger ?? silentLogger
    this.#bucket = new TokenBucket(options.burst ?? 25, options.refillMs ?? 10_000, this.#clock.monotonic())
  }

  record(event: NodeEvent, options: AbortOptions = {}): Promise<RecordOutcome> {
    const key = JSON.stringify([event.node, event.type, event.reason, event.message])
    const previous = this.#queues.get(key) ?? Promise.resolve<RecordOutcome>('created')
    const next = previous.then(() => this.#record(key, event, options))
    this.#queues.set(key, next)
    void next.finally(() => {
      if (this.#queues.get(key) === next) this.#queues.delete(key)
    })
    return next
  }

  async #record(key: string, event: NodeEvent, options: AbortOptions): Promise<RecordOutcome> {
    const now = this.#clock.monotonic()
    this.#forgetOlderThan(now - (this.#options.dedupeWindowMs ?? 600_000))
    if (!this.#bucket.take(now)) {
      this.dropped++
      this.#logger.debug({ reason: event.reason, node: event.node }, 'event dropped by rate limit')
      return 'dropped'
    }
    const namespace = this.#options.namespace ?? 'default'
    const at = new Date(this.#clock.now())
    const seen = this.#recent.get(key)
    try {
      if (seen !== undefined) {
        try {
          await this.#writer.patchEventCount(namespace, seen.name, seen.count + 1, at, options)
          seen.count++
          seen.lastAt = now
          return 'counted'
        } catch (err) {
          // The Event expired (the API keeps them for an hour by default): create a new one.
          if (!(err instanceof KubeApiError && err.status === 404)) throw err
          this.#recent.delete(key)
        }
      }
      const name = await this.#writer.createEvent(
        { ...event, namespace, component: REPORTING_COMPONENT, instance: this.#options.instance, at },
        options,
      )
      this.#recent.set(key, { name, count: 1, lastAt: now })
      return 'created'
    } catch (err) {
      this.#logger.warn({ reason: event.reason, err: (err as Error).message }, 'cannot record event')
      return 'failed'
    }
  }

  #forgetOlderThan(cutoff: number): void {
    for (const [key, entry] of this.#recent) if (entry.lastAt < cutoff) this.#recent.delete(key)
  }
}
