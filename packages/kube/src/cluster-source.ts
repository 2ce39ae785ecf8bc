import type { EventEmitter } from 'node:events'
import type { AbortOptions, ClusterView, ViewStatus } from '@podlink/core'

/** The view and its status at the moment of a change. */
export interface ClusterChange {
  readonly view: ClusterView
  readonly status: ViewStatus
}

export interface ClusterSourceEvents {
  /** The view or its status changed; coalesced, so one event may stand for many API events. */
  change: [change: ClusterChange]
}

/**
 * What the agent consumes: one ClusterView kept current, and whether it can be trusted. The
 * real implementation is ClusterWatcher; FakeClusterSource (./testing) lets tests push views.
 */
export interface ClusterSource extends Pick<EventEmitter<ClusterSourceEvents>, 'on' | 'off'> {
  start(options?: AbortOptions): Promise<void>
  stop(): Promise<void>
  /**
   * Resolves once there is a view to act on: all watches completed their first list, or the API
   * could not be reached and the view was loaded from the on-disk cache (`status().stale`).
   * Rejects only when `signal` aborts.
   */
  ready(options?: AbortOptions): Promise<void>
  /** An immutable snapshot; a later change brings a new object. */
  view(): ClusterView
  status(): ViewStatus
}

export const EMPTY_VIEW: ClusterView = { nodes: new Map(), services: new Map(), endpoints: new Map() }

/** Waits for `promise` unless `signal` aborts first (the promise itself is not cancelled). */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  signal.throwIfAborted()
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
