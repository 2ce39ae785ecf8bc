import { type Logger, silentLogger } from '@podlink/core'
import type { ClusterSource } from '../cluster-source.ts'
import type { KubeWriter } from '../kube-writer.ts'
import { type BackoffOptions, backoffDelay } from '../watch/backoff.ts'
import { systemTimers, type TimerHandle, type Timers } from '../watch/timers.ts'
import { annotationPatch, assertOwnedKey } from './annotation-patch.ts'

export interface NodeAnnotatorOptions {
  /** The agent's own Node. */
  readonly nodeName: string
  readonly backoff?: BackoffOptions
}

export interface NodeAnnotatorDeps {
  readonly writer: Pick<KubeWriter, 'patchNodeAnnotations'>
  /** Where the Node is observed: a change that undoes ours is put right again. */
  readonly source: Pick<ClusterSource, 'on' | 'off' | 'view'>
  readonly timers?: Timers
  readonly random?: () => number
  readonly logger?: Logger
}

export interface NodeAnnotatorStatus {
  /** True when the last patch succeeded and nothing observed since contradicts it. */
  readonly inSync: boolean
  readonly patches: number
  readonly lastError: string | null
}

/**
 * Keeps `podlink.io/*` annotations right on the agent's own Node. Guarantees: only keys given to
 * `set` are ever written (null = must be absent); one patch in flight at a time; a failed patch
 * is retried with capped exponential backoff until it succeeds or `stop`; a later change seen
 * on the Node that undoes ours (someone edits or removes the annotation) is patched back.
 */
export class NodeAnnotator {
  readonly #options: NodeAnnotatorOptions
  readonly #deps: NodeAnnotatorDeps
  readonly #timers: Timers
  readonly #logger: Logger
  readonly #desired: Record<string, string | null> = {}
  #started = false
  #stopped = false
  /** Set until a patch succeeds after the latest `set`: the view may be too old to trust. */
  #mustPatch = false
  #inFlight = false
  #again = false
  #attempt = 0
  #retry: TimerHandle | undefined
  #patches = 0
  #lastError: string | null = null
  #settled: Array<() => void> = []
  /** Bumped by `set`, so a patch that raced a newer `set` does not count as the final one. */
  #generation = 0

  constructor(options: NodeAnnotatorOptions, deps: NodeAnnotatorDeps) {
    this.#options = options
    this.#deps = deps
    this.#timers = deps.timers ?? systemTimers
    this.#logger = (deps.logger ?? silentLogger).child({ node: options.nodeName })
  }

  /** Declares values for owned keys (merged with earlier calls); throws for keys outside podlink.io/. */
  set(annotations: Readonly<Record<string, string | null>>): void {
    for (const key of Object.keys(annotations)) assertOwnedKey(key)
    Object.assign(this.#desired, annotations)
    this.#generation++
    this.#mustPatch = true
    this.#kick()
  }

  start(): void {
    if (this.#started) return
    this.#started = true
    this.#deps.source.on('change', this.#kick)
    this.#kick()
  }

  stop(): void {
    this.#stopped = true
    this.#deps.source.off('change', this.#kick)
    if (this.#retry !== undefined) this.#timers.clearTimeout(this.#retry)
    this.#retry = undefined
  }

  status(): NodeAnnotatorStatus {
    return {
      inSync: !this.#mustPatch && this.#pending() === undefined,
      patches: this.#patches,
      lastError: this.#lastError,
    }
  }

  /** Resolves the next time no patch is needed or in flight (for tests and orderly shutdown). */
  settled(): Promise<void> {
    if (!this.#inFlight && this.#retry === undefined && this.#pending() === undefined && !this.#mustPatch) {
      return Promise.resolve()
    }
    return new Promise((resolve) => this.#settled.push(resolve))
  }

  #pending(): Record<string, string | null> | undefined {
    return annotationPatch(this.#desired, this.#deps.source.view().nodes.get(this.#options.nodeName)?.annotations)
  }

  readonly #kick = (): void => {
    if (!this.#started || this.#stopped || this.#retry !== undefined) return
    if (this.#inFlight) {
      this.#again = true
      return
    }
    const patch = this.#mustPatch ? { ...this.#desired } : this.#pending()
    if (patch === undefined || Object.keys(patch).length === 0) {
      this.#mustPatch = false
      this.#notifySettled()
      return
    }
    void this.#apply(patch)
  }

  async #apply(patch: Record<string, string | null>): Promise<void> {
    this.#inFlight = true
    this.#again = false
    const generation = this.#generation
    try {
      await this.#deps.writer.patchNodeAnnotations(this.#options.nodeName, patch)
      this.#patches++
      this.#attempt = 0
      this.#lastError = null
      if (generation === this.#generation) this.#mustPatch = false
      this.#logger.info({ patch }, 'node annotations applied')
    } catch (err) {
      this.#lastError = (err as Error).message
      this.#mustPatch = true
      const delay = backoffDelay(this.#attempt++, this.#options.backoff, this.#deps.random)
      this.#logger.warn({ err: this.#lastError, retryInMs: delay }, 'cannot patch node annotations; retrying')
      if (!this.#stopped) {
        this.#retry = this.#timers.setTimeout(() => {
          this.#retry = undefined
          this.#kick()
        }, delay)
      }
    } finally {
      this.#inFlight = false
    }
    if (this.#again && this.#retry === undefined) this.#kick()
    else if (this.#retry === undefined && !this.#mustPatch) this.#notifySettled()
  }

  #notifySettled(): void {
    const waiting = this.#settled
    this.#settled = []
    for (const resolve of waiting) resolve()
  }
}
