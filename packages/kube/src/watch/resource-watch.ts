import type { EventEmitter } from 'node:events'

export type WatchedResource = 'nodes' | 'services' | 'endpointslices'

export interface ResourceWatchStatus {
  /** True once a list from the API has completed (stays true across later outages). */
  readonly synced: boolean
  /** The last resourceVersion seen (list or watch event); '' before the first list. */
  readonly resourceVersion: string
  /** Full lists made: 1 after start, +1 for every relist (410, restart without a version). */
  readonly lists: number
  /** Restarts after the informer gave up (API unreachable, HTTP error). */
  readonly restarts: number
  readonly lastError: string | null
}

export interface ResourceWatchEvents {
  /** An object was added, changed or removed; the argument is its key. */
  change: [key: string]
  /** The first list completed. */
  synced: []
  /** The informer failed; a restart is scheduled. (Not `error`: EventEmitter throws those when unheard.) */
  failed: [err: Error]
}

/**
 * One resource type, listed then watched, converted to a core type. Keys are `namespace/name`
 * (or `name` for cluster-scoped objects). The implementation restarts itself after failures;
 * consumers only read `items()` and listen.
 */
export interface ResourceWatch<T> extends Pick<EventEmitter<ResourceWatchEvents>, 'on' | 'off'> {
  readonly resource: WatchedResource
  start(): Promise<void>
  stop(): Promise<void>
  items(): ReadonlyMap<string, T>
  status(): ResourceWatchStatus
}
