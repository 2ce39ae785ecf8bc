import { EventEmitter } from 'node:events'
import type { AbortOptions, ClusterView, ViewStatus } from '@podlink/core'
import { type ClusterSource, type ClusterSourceEvents, EMPTY_VIEW, raceAbort } from '../cluster-source.ts'

/**
 * A ClusterSource without an API server: tests `push` views and statuses. Not ready until the
 * first `push` with `synced` or `stale` true, like the real watcher.
 */
export class FakeClusterSource extends EventEmitter<ClusterSourceEvents> implements ClusterSource {
  #view: ClusterView = EMPTY_VIEW
  #status: ViewStatus = { synced: false, stale: false, resourceVersions: {}, lastSyncAt: null }
  readonly #ready = Promise.withResolvers<void>()
  started = false

  async start(options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    this.started = true
  }

  async stop(): Promise<void> {
    this.started = false
  }

  ready(options: AbortOptions = {}): Promise<void> {
    return raceAbort(this.#ready.promise, options.signal)
  }

  view(): ClusterView {
    return this.#view
  }

  status(): ViewStatus {
    return this.#status
  }

  /** Replaces the view (and status fields given) and emits `change` synchronously. */
  push(view: ClusterView, status: Partial<ViewStatus> = { synced: true }): void {
    this.#view = view
    this.#status = { ...this.#status, ...status }
    if (this.#status.synced || this.#status.stale) this.#ready.resolve()
    this.emit('change', { view: this.#view, status: this.#status })
  }
}
