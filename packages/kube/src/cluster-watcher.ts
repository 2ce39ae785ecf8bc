import { EventEmitter } from 'node:events'
import type { AbortOptions, Clock, ClusterView, EndpointInfo, Logger, ViewStatus } from '@podlink/core'
import { silentLogger, systemClock } from '@podlink/core'
import { ViewCache } from './cache/view-cache.ts'
import type { CachedView } from './cache/view-cache-format.ts'
import { type ClusterSource, type ClusterSourceEvents, EMPTY_VIEW, raceAbort } from './cluster-source.ts'
import type { SliceInfo } from './convert/endpoint-slice.ts'
import type { KubeConnection } from './kube-connection.ts'
import type { BackoffOptions } from './watch/backoff.ts'
import { type ClusterWatches, createClusterWatches } from './watch/cluster-watches.ts'
import { systemTimers, type TimerHandle, type Timers } from './watch/timers.ts'

export interface ClusterWatcherOptions {
  /** Where the last-known view is kept (`cluster-view.json`); without it there is no cache. */
  readonly stateDir?: string
  /** Changes within this window become one `change` event. Default 50 ms. */
  readonly coalesceMs?: number
  /** The cache is rewritten at most this often. Default 2 s: disk writes on flash are not free. */
  readonly cacheWriteMs?: number
  /**
   * Without a first sync by then, the cached view is served (stale). Default 10 s. A watch that
   * fails outright (connection refused) falls back at once.
   */
  readonly initialSyncTimeoutMs?: number
  readonly backoff?: BackoffOptions
}

export interface ClusterWatcherDeps {
  readonly timers?: Timers
  readonly clock?: Clock
  readonly logger?: Logger
  readonly random?: () => number
}

/** Connects the three informers to `connection` and combines them. */
export function createClusterWatcher(
  connection: KubeConnection,
  options: ClusterWatcherOptions = {},
  deps: ClusterWatcherDeps = {},
): ClusterWatcher {
  const watches = createClusterWatches(connection, {
    ...(deps.timers === undefined ? {} : { timers: deps.timers }),
    ...(deps.random === undefined ? {} : { random: deps.random }),
    ...(deps.logger === undefined ? {} : { logger: deps.logger }),
    ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
  })
  return new ClusterWatcher(watches, options, deps)
}

/**
 * Nodes + Services + EndpointSlices -> one ClusterView. Guarantees: no view is published before
 * all three watches have listed once (kube-proxy's rule: never program partial data), unless the
 * API is unreachable and a cached view exists, which is then published with `stale: true` and
 * replaced (with `stale: false` and a `change`) as soon as all three have listed. Changes are
 * coalesced: at most one `change` per `coalesceMs`, never later than that after the API event.
 */
export class ClusterWatcher extends EventEmitter<ClusterSourceEvents> implements ClusterSource {
  readonly #watches: ClusterWatches
  readonly #cache: ViewCache | undefined
  readonly #timers: Timers
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #coalesceMs: number
  readonly #cacheWriteMs: number
  readonly #initialSyncTimeoutMs: number
  readonly #ready = Promise.withResolvers<void>()
  #view: ClusterView = EMPTY_VIEW
  #synced = false
  #stale = false
  #lastSyncAt: string | null = null
  #cached: CachedView | undefined
  #started = false
  #stopped = false
  #coalesceTimer: TimerHandle | undefined
  #cacheTimer: TimerHandle | undefined
  #fallbackTimer: TimerHandle | undefined
  #writing: Promise<void> = Promise.resolve()
  /** The last problem with the cache file (missing is not a problem), for status pages. */
  cacheError: Error | null = null

  constructor(watches: ClusterWatches, options: ClusterWatcherOptions = {}, deps: ClusterWatcherDeps = {}) {
    super()
    this.#watches = watches
    this.#cache = options.stateDir === undefined ? undefined : new ViewCache(options.stateDir)
    this.#timers = deps.timers ?? systemTimers
    this.#clock = deps.clock ?? systemClock
    this.#logger = deps.logger ?? silentLogger
    this.#coalesceMs = options.coalesceMs ?? 50
    this.#cacheWriteMs = options.cacheWriteMs ?? 2000
    this.#initialSyncTimeoutMs = options.initialSyncTimeoutMs ?? 10_000
  }

  async start(options: AbortOptions = {}): Promise<void> {
    if (this.#started) return
    this.#started = true
    options.signal?.throwIfAborted()
    if (this.#cache !== undefined) {
      try {
        this.#cached = await this.#cache.load()
        if (this.#cached === undefined) this.#logger.info({ path: this.#cache.path }, 'no view cache yet')
      } catch (err) {
        this.cacheError = err as Error
        this.#logger.warn({ err: (err as Error).message }, 'view cache unusable; starting without it')
      }
    }
    for (const watch of this.#allWatches()) {
      watch.on('change', this.#onChange)
      watch.on('synced', this.#onSynced)
      watch.on('failed', this.#onFailed)
    }
    this.#fallbackTimer = this.#timers.setTimeout(() => {
      this.#fallbackTimer = undefined
      this.#fallBackToCache('the first sync did not finish in time')
    }, this.#initialSyncTimeoutMs)
    await Promise.all(this.#allWatches().map((w) => w.start()))
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    for (const timer of [this.#coalesceTimer, this.#fallbackTimer, this.#cacheTimer]) {
      if (timer !== undefined) this.#timers.clearTimeout(timer)
    }
    const pendingWrite = this.#cacheTimer !== undefined
    this.#coalesceTimer = this.#fallbackTimer = this.#cacheTimer = undefined
    for (const watch of this.#allWatches()) {
      watch.off('change', this.#onChange)
      watch.off('synced', this.#onSynced)
      watch.off('failed', this.#onFailed)
    }
    await Promise.all(this.#allWatches().map((w) => w.stop()))
    if (pendingWrite) this.#writeCache()
    await this.#writing
  }

  ready(options: AbortOptions = {}): Promise<void> {
    return raceAbort(this.#ready.promise, options.signal)
  }

  view(): ClusterView {
    return this.#view
  }

  status(): ViewStatus {
    return {
      synced: this.#synced,
      stale: this.#stale,
      resourceVersions: this.#stale ? (this.#cached?.resourceVersions ?? {}) : this.#resourceVersions(),
      lastSyncAt: this.#lastSyncAt,
    }
  }

  #allWatches() {
    return [this.#watches.nodes, this.#watches.services, this.#watches.endpointSlices] as const
  }

  #resourceVersions(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const watch of this.#allWatches()) out[watch.resource] = watch.status().resourceVersion
    return out
  }

  readonly #onSynced = (): void => {
    if (this.#stopped || !this.#allWatches().every((w) => w.status().synced)) return
    if (this.#fallbackTimer !== undefined) this.#timers.clearTimeout(this.#fallbackTimer)
    this.#fallbackTimer = undefined
    const wasStale = this.#stale
    this.#synced = true
    this.#stale = false
    this.#logger.info({ wasStale, resourceVersions: this.#resourceVersions() }, 'cluster view synced')
    this.#publish()
    this.#ready.resolve()
  }

  readonly #onChange = (): void => {
    if (!this.#synced || this.#stopped || this.#coalesceTimer !== undefined) return
    this.#coalesceTimer = this.#timers.setTimeout(() => {
      this.#coalesceTimer = undefined
      this.#publish()
    }, this.#coalesceMs)
  }

  readonly #onFailed = (err: Error): void => {
    if (!this.#synced) this.#fallBackToCache(err.message)
  }

  #fallBackToCache(reason: string): void {
    if (this.#synced || this.#stale || this.#stopped) return
    if (this.#cached === undefined) {
      this.#logger.warn({ reason }, 'API unreachable and no view cache; waiting for the API')
      return
    }
    this.#logger.warn({ reason, savedAt: this.#cached.savedAt }, 'API unreachable; serving the cached view (stale)')
    this.#stale = true
    this.#view = this.#cached.view
    this.emit('change', { view: this.#view, status: this.status() })
    this.#ready.resolve()
  }

  /** Rebuilds the view from the watches, emits it and schedules a cache write. */
  #publish(): void {
    if (this.#coalesceTimer !== undefined) this.#timers.clearTimeout(this.#coalesceTimer)
    this.#coalesceTimer = undefined
    this.#view = {
      nodes: new Map(this.#watches.nodes.items()),
      services: new Map(this.#watches.services.items()),
      endpoints: groupSlices(this.#watches.endpointSlices.items()),
    }
    this.#lastSyncAt = new Date(this.#clock.now()).toISOString()
    this.emit('change', { view: this.#view, status: this.status() })
    if (this.#cache !== undefined && this.#cacheTimer === undefined) {
      this.#cacheTimer = this.#timers.setTimeout(() => {
        this.#cacheTimer = undefined
        this.#writeCache()
      }, this.#cacheWriteMs)
    }
  }

  #writeCache(): void {
    const cache = this.#cache
    if (cache === undefined || !this.#synced) return
    const snapshot: CachedView = {
      view: this.#view,
      resourceVersions: this.#resourceVersions(),
      savedAt: new Date(this.#clock.now()).toISOString(),
    }
    this.#writing = this.#writing.then(() =>
      cache.save(snapshot).then(
        () => {
          this.#cached = snapshot
        },
        (err: unknown) => {
          this.cacheError = err as Error
          this.#logger.warn({ err: (err as Error).message }, 'cannot write the view cache')
        },
      ),
    )
  }
}

/** EndpointSlices keyed by slice -> endpoints keyed by Service, slices in key order. */
export function groupSlices(slices: ReadonlyMap<string, SliceInfo>): Map<string, readonly EndpointInfo[]> {
  const out = new Map<string, EndpointInfo[]>()
  for (const key of [...slices.keys()].sort()) {
    const slice = slices.get(key)!
    const list = out.get(slice.service)
    if (list === undefined) out.set(slice.service, [...slice.endpoints])
    else list.push(...slice.endpoints)
  }
  return out
}
