import { EventEmitter } from 'node:events'
import { isDeepStrictEqual } from 'node:util'
import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from '@kubernetes/client-node'
import { type Logger, silentLogger } from '@podlink/core'
import { objectKey } from '../convert/json-fields.ts'
import { type BackoffOptions, backoffDelay } from './backoff.ts'
import type { ResourceWatch, ResourceWatchEvents, ResourceWatchStatus, WatchedResource } from './resource-watch.ts'
import { systemTimers, type TimerHandle, type Timers } from './timers.ts'

export interface InformerWatchSpec<T> {
  readonly resource: WatchedResource
  /** The collection path, e.g. `/api/v1/nodes`. */
  readonly path: string
  readonly list: () => Promise<KubernetesListObject<KubernetesObject>>
  /** Undefined skips the object (it is logged, never thrown). */
  readonly convert: (obj: unknown) => T | undefined
}

export interface InformerWatchDeps {
  readonly kubeConfig: KubeConfig
  readonly timers?: Timers
  readonly random?: () => number
  readonly logger?: Logger
  readonly backoff?: BackoffOptions
}

/**
 * Asks for BOOKMARK events, so a quiet watch keeps a fresh resourceVersion and survives
 * compaction without a relist (client-node's ListWatch does not ask for them).
 */
class BookmarkWatch extends Watch {
  override watch(
    path: string,
    params: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(path, { ...params, allowWatchBookmarks: true }, callback, done)
  }
}

/**
 * A ResourceWatch over client-node 2.0.1's ListWatch. What ListWatch does on its own (read in
 * its cache.js): a watch that ends cleanly or times out is resumed from the last
 * resourceVersion; a 410 (ERROR event in the stream, or HTTP 410) clears the version so the next
 * round relists and emits deletes for objects that vanished meanwhile. What it does not do: on
 * any other error (list failed, connection refused, HTTP 5xx) it calls the `error` callbacks and
 * stops for good. This class restarts it then, after capped exponential backoff with jitter,
 * and never runs two loops at once (calling `start()` on a live ListWatch doubles its requests,
 * the pattern behind kubernetes-client/javascript#1933).
 */
export class InformerWatch<T> extends EventEmitter<ResourceWatchEvents> implements ResourceWatch<T> {
  readonly resource: WatchedResource
  readonly #spec: InformerWatchSpec<T>
  readonly #informer: ListWatch<KubernetesObject>
  readonly #items = new Map<string, T>()
  readonly #timers: Timers
  readonly #random: () => number
  readonly #logger: Logger
  readonly #backoff: BackoffOptions
  #synced = false
  #lists = 0
  #restarts = 0
  #attempt = 0
  #lastError: string | null = null
  #stopped = true
  #failedThisRound = false
  #running: Promise<void> | undefined
  #retry: TimerHandle | undefined

  constructor(spec: InformerWatchSpec<T>, deps: InformerWatchDeps) {
    super()
    this.resource = spec.resource
    this.#spec = spec
    this.#timers = deps.timers ?? systemTimers
    this.#random = deps.random ?? Math.random
    this.#logger = (deps.logger ?? silentLogger).child({ resource: spec.resource })
    this.#backoff = deps.backoff ?? {}
    const list = async () => {
      const result = await spec.list()
      this.#lists++
      // ListWatch applies the list in the microtask after this returns; setImmediate runs after
      // that, so the items are in place. Sync must not wait for the watch's response headers:
      // a proxy that holds them until the first event would hold the agent's start too.
      setImmediate(() => {
        if (!this.#failedThisRound && !this.#stopped) this.#markSynced()
      })
      return result
    }
    this.#informer = new ListWatch(spec.path, new BookmarkWatch(deps.kubeConfig), list, false)
    this.#informer.on('add', (obj) => this.#upsert(obj))
    this.#informer.on('update', (obj) => this.#upsert(obj))
    this.#informer.on('delete', (obj) => this.#remove(obj))
    this.#informer.on('error', (err) => this.#failed(err))
  }

  async start(): Promise<void> {
    if (!this.#stopped) return
    this.#stopped = false
    this.#round()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#retry !== undefined) this.#timers.clearTimeout(this.#retry)
    this.#retry = undefined
    await this.#informer.stop()
    // A round still listing would open its watch after stop(); close it once the round is done.
    if (this.#running !== undefined) {
      await this.#running
      await this.#informer.stop()
    }
  }

  items(): ReadonlyMap<string, T> {
    return this.#items
  }

  status(): ResourceWatchStatus {
    return {
      synced: this.#synced,
      resourceVersion: this.#informer.latestResourceVersion(),
      lists: this.#lists,
      restarts: this.#restarts,
      lastError: this.#lastError,
    }
  }

  /** One list+watch round of the ListWatch; resolves once its watch is open or it failed. */
  #round(): void {
    this.#failedThisRound = false
    const round = this.#informer
      .start()
      .then(
        () => {
          if (this.#failedThisRound || this.#stopped) return
          this.#attempt = 0
          this.#markSynced()
        },
        (err: unknown) => this.#failed(err),
      )
      .finally(() => {
        if (this.#running === round) this.#running = undefined
      })
    this.#running = round
  }

  #markSynced(): void {
    if (this.#synced) return
    this.#synced = true
    this.#logger.info({ resourceVersion: this.#informer.latestResourceVersion() }, 'initial list complete')
    this.emit('synced')
  }

  #failed(err: unknown): void {
    this.#failedThisRound = true
    if (this.#stopped || this.#retry !== undefined) return
    const error = err instanceof Error ? err : new Error(String(err))
    this.#lastError = error.message
    const delay = backoffDelay(this.#attempt++, this.#backoff, this.#random)
    this.#logger.warn({ err: error.message, retryInMs: delay }, 'watch failed; restarting')
    this.#retry = this.#timers.setTimeout(() => {
      this.#retry = undefined
      if (this.#stopped) return
      this.#restarts++
      // The failed round has returned by now (ListWatch reports errors as its last act), but
      // wait for it anyway: two live rounds would double every request.
      void (this.#running ?? Promise.resolve()).then(() => {
        if (!this.#stopped) this.#round()
      })
    }, delay)
    this.emit('failed', error)
  }

  #upsert(obj: KubernetesObject): void {
    const key = objectKey(obj)
    if (key === undefined) return
    let converted: T | undefined
    try {
      converted = this.#spec.convert(obj)
    } catch (err) {
      // Converters are written not to throw; this is the last line that keeps the informer alive.
      this.#logger.error({ key, err: (err as Error).message }, 'cannot convert object; ignoring it')
    }
    if (converted === undefined) {
      if (this.#items.delete(key)) this.emit('change', key)
      return
    }
    // Kubelet heartbeats and status churn change the object but not what podlink reads.
    if (isDeepStrictEqual(this.#items.get(key), converted)) return
    this.#items.set(key, converted)
    this.emit('change', key)
  }

  #remove(obj: KubernetesObject): void {
    const key = objectKey(obj)
    if (key !== undefined && this.#items.delete(key)) this.emit('change', key)
  }
}
