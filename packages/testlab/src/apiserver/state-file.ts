import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { PodlinkError } from '@podlink/core'
import { parseAllDocuments } from 'yaml'
import type { ObjectStore, StoreState } from './object-store.ts'
import { findTypeByKind, type KubeObject } from './resource-types.ts'

/**
 * Keeps the store in a JSON file: written (debounced) after changes and on demand, always through
 * a temporary file and rename, so a crash leaves either the old or the new state, never half of one.
 */
export class StateFile {
  readonly #path: string
  readonly #store: ObjectStore
  readonly #debounceMs: number
  #timer: NodeJS.Timeout | undefined
  #unsubscribe: (() => void) | undefined

  constructor(path: string, store: ObjectStore, debounceMs = 100) {
    this.#path = path
    this.#store = store
    this.#debounceMs = debounceMs
  }

  /** Loads the file into the store; false when there is no file yet. */
  load(): boolean {
    let text: string
    try {
      text = readFileSync(this.#path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw new PodlinkError('apiserver-state', `Cannot read state file ${this.#path}`, { cause: err })
    }
    let state: StoreState
    try {
      state = JSON.parse(text) as StoreState
    } catch (err) {
      throw new PodlinkError('apiserver-state', `Cannot load state file ${this.#path} as it is not JSON`, {
        cause: err,
      })
    }
    if (state.apiVersion !== 'podlink.io/apiserver-state/v1') {
      throw new PodlinkError(
        'apiserver-state',
        `Cannot load state file ${this.#path} as its apiVersion is ${String(state.apiVersion)}`,
      )
    }
    this.#store.load(state)
    return true
  }

  /** Saves after every change, at most once per debounce interval. */
  watch(): void {
    this.#unsubscribe = this.#store.subscribe(() => {
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined
        this.flush()
      }, this.#debounceMs)
    })
  }

  /** Writes the current state now (synchronously, so it also works in a signal handler). */
  flush(): void {
    const tmp = `${this.#path}.${process.pid}.tmp`
    writeFileSync(tmp, JSON.stringify(this.#store.snapshot()) + '\n', { mode: 0o600 })
    renameSync(tmp, this.#path)
  }

  /** Stops watching and writes a final state. */
  close(): void {
    this.#unsubscribe?.()
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.flush()
  }
}

/**
 * Reads a seed file: a YAML or JSON list of objects, a `kind: List` with `items`, or a YAML stream
 * of objects separated by `---`. Objects of kinds this server does not serve are an error.
 */
export async function readSeedFile(path: string): Promise<KubeObject[]> {
  const text = await readFile(path, 'utf8')
  const objects: KubeObject[] = []
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0)
      throw new PodlinkError('apiserver-seed', `Cannot parse seed file ${path}: ${doc.errors[0]?.message}`)
    const value: unknown = doc.toJS()
    if (value === null || value === undefined) continue
    const items = Array.isArray(value)
      ? value
      : Array.isArray((value as { items?: unknown }).items)
        ? (value as { items: unknown[] }).items
        : [value]
    objects.push(...(items as KubeObject[]))
  }
  for (const [i, obj] of objects.entries()) {
    if (findTypeByKind(obj?.apiVersion, obj?.kind) === undefined) {
      throw new PodlinkError(
        'apiserver-seed',
        `Cannot seed ${path} item ${i} as ${String(obj?.apiVersion)} ${String(obj?.kind)} is not served`,
      )
    }
  }
  return objects
}
