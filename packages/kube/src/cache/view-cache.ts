import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PodlinkError, writeFileAtomic } from '@podlink/core'
import { type CachedView, parseView, serializeView } from './view-cache-format.ts'

/** The file name inside the state directory. */
export const VIEW_CACHE_FILE = 'cluster-view.json'

/**
 * The last full cluster view on disk, so an edge node that restarts while the cloud is away can
 * still route. Writes are atomic (a temporary file in the same directory, fsync, rename), so a
 * crash leaves the old file or the new one, never half of one; mode 0600 since the view names
 * every node and address of the cluster.
 */
export class ViewCache {
  readonly path: string

  constructor(stateDir: string) {
    this.path = join(stateDir, VIEW_CACHE_FILE)
  }

  /** Undefined when there is no file; throws PodlinkError `kube-cache-corrupt` when it is unreadable. */
  async load(): Promise<CachedView | undefined> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new PodlinkError(
        'kube-cache-corrupt',
        `Cannot read the view cache ${this.path} as ${(err as Error).message}`,
        {
          cause: err,
        },
      )
    }
    return parseView(text, this.path)
  }

  async save(cached: CachedView): Promise<void> {
    try {
      await writeFileAtomic(this.path, serializeView(cached))
    } catch (err) {
      throw new PodlinkError(
        'kube-cache-write',
        `Cannot write the view cache ${this.path} as ${(err as Error).message}`,
        {
          cause: err,
        },
      )
    }
  }
}
