/**
 * Proven LAN verdicts on disk (`lan-verdicts.json` in the state directory), so a restarted agent starts
 * from what it proved before instead of capturing its LAN peers' traffic until a probe succeeds again.
 * Writes are atomic (temporary file, fsync, rename) and queued one at a time; mode 0600, since the file
 * names nodes, peer IDs and addresses.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Logger, writeFileAtomic } from '@podlink/core'
import type { LanVerdictStore, ProvenLanVerdict } from './lan-prober.ts'

export const LAN_VERDICTS_FILE = 'lan-verdicts.json'
export const LAN_VERDICTS_API_VERSION = 'podlink.io/lan-verdicts/v1'

export function serializeLanVerdicts(verdicts: readonly ProvenLanVerdict[]): string {
  return `${JSON.stringify({ apiVersion: LAN_VERDICTS_API_VERSION, verdicts }, null, 2)}\n`
}

/**
 * Pure: the file's text -> its verdicts. A file that is not ours (or not JSON) yields none and a reason;
 * malformed entries are dropped one by one: a verdict is only ever a head start, never needed.
 */
export function parseLanVerdicts(text: string): { verdicts: ProvenLanVerdict[]; problem: string | null } {
  let root: unknown
  try {
    root = JSON.parse(text)
  } catch {
    return { verdicts: [], problem: 'it is not JSON' }
  }
  const r = root as { apiVersion?: unknown; verdicts?: unknown }
  if (typeof root !== 'object' || root === null || r.apiVersion !== LAN_VERDICTS_API_VERSION)
    return { verdicts: [], problem: `its apiVersion is not ${LAN_VERDICTS_API_VERSION}` }
  if (!Array.isArray(r.verdicts)) return { verdicts: [], problem: 'it has no verdicts list' }
  const verdicts: ProvenLanVerdict[] = []
  const seen = new Set<string>()
  for (const v of r.verdicts as unknown[]) {
    const e = v as Partial<Record<keyof ProvenLanVerdict, unknown>>
    if (
      typeof v !== 'object' ||
      v === null ||
      typeof e.node !== 'string' ||
      e.node === '' ||
      seen.has(e.node) ||
      typeof e.key !== 'string' ||
      typeof e.lan !== 'boolean' ||
      typeof e.reason !== 'string' ||
      typeof e.provenAt !== 'number' ||
      !Number.isFinite(e.provenAt)
    )
      continue
    seen.add(e.node)
    verdicts.push({ node: e.node, key: e.key, lan: e.lan, reason: e.reason, provenAt: e.provenAt })
  }
  return { verdicts, problem: null }
}

export class LanVerdictFile implements LanVerdictStore {
  readonly path: string
  readonly #log: Logger
  #writing: Promise<void> = Promise.resolve()

  constructor(stateDir: string, log: Logger) {
    this.path = join(stateDir, LAN_VERDICTS_FILE)
    this.#log = log
  }

  /** The verdicts saved before; none when there is no file, or it is unreadable (logged). Runs once at start. */
  load(): ProvenLanVerdict[] {
    let text: string
    try {
      text = readFileSync(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.#log.warn({ err: String(err), file: this.path }, 'cannot read the saved LAN verdicts: probing afresh')
      return []
    }
    const { verdicts, problem } = parseLanVerdicts(text)
    if (problem) this.#log.warn({ file: this.path }, `Cannot use the saved LAN verdicts as ${problem}: probing afresh`)
    return verdicts
  }

  /** Queues an atomic write of these verdicts; a failed write is logged (the next one tries again). */
  save(verdicts: readonly ProvenLanVerdict[]): void {
    const text = serializeLanVerdicts(verdicts)
    this.#writing = this.#writing.then(() =>
      this.#write(text).catch((err: unknown) =>
        this.#log.warn({ err: String(err), file: this.path }, 'cannot save the LAN verdicts'),
      ),
    )
  }

  /** Resolves when every queued write has finished. */
  flushed(): Promise<void> {
    return this.#writing
  }

  #write(text: string): Promise<void> {
    return writeFileAtomic(this.path, text)
  }
}
