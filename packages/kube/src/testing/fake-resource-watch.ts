import { EventEmitter } from 'node:events'
import type {
  ResourceWatch,
  ResourceWatchEvents,
  ResourceWatchStatus,
  WatchedResource,
} from '../watch/resource-watch.ts'

/** A ResourceWatch driven by the test: `set`, `delete`, `sync`, `fail`. */
export class FakeResourceWatch<T> extends EventEmitter<ResourceWatchEvents> implements ResourceWatch<T> {
  readonly resource: WatchedResource
  readonly #items = new Map<string, T>()
  #synced = false
  #version = 0
  #lastError: string | null = null
  started = false

  constructor(resource: WatchedResource) {
    super()
    this.resource = resource
  }

  async start(): Promise<void> {
    this.started = true
  }

  async stop(): Promise<void> {
    this.started = false
  }

  items(): ReadonlyMap<string, T> {
    return this.#items
  }

  status(): ResourceWatchStatus {
    return {
      synced: this.#synced,
      resourceVersion: this.#synced ? String(this.#version) : '',
      lists: this.#synced ? 1 : 0,
      restarts: 0,
      lastError: this.#lastError,
    }
  }

  set(key: string, value: T): void {
    this.#items.set(key, value)
    this.#version++
    this.emit('change', key)
  }

  delete(key: string): void {
    if (this.#items.delete(key)) {
      this.#version++
      this.emit('change', key)
    }
  }

  /** Completes the "first list". */
  sync(): void {
    this.#synced = true
    this.emit('synced')
  }

  fail(message = 'connect ECONNREFUSED 127.0.0.1:6443'): void {
    this.#lastError = message
    this.emit('failed', new Error(message))
  }
}
