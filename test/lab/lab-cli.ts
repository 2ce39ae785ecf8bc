/** Drives `pnpm lab` the way a user does, for the end-to-end suites. */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const REPO = fileURLToPath(new URL('../../', import.meta.url))
export const SHARED_TOPOLOGIES = fileURLToPath(new URL('../../../shared/lab/topologies/', import.meta.url))
export const TEST_TOPOLOGIES = fileURLToPath(new URL('../topologies/', import.meta.url))

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export function labCli(args: readonly string[], options: { timeoutMs?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [`${REPO}packages/testlab/src/cli/main.ts`, ...args], {
    encoding: 'utf8',
    cwd: REPO,
    timeout: options.timeoutMs ?? 120_000,
    maxBuffer: 64 << 20,
  })
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }
}

export function labUpOrThrow(file: string, extra: readonly string[] = ['--no-agents']): CliResult {
  const r = labCli(['up', file, ...extra])
  if (r.code !== 0) throw new Error(`pnpm lab up ${file} failed (${r.code}):\n${r.stdout}\n${r.stderr}`)
  return r
}

export interface ProbeSummary {
  readonly sent: number
  readonly ok: number
  readonly failed: number
  readonly responders: Record<string, number>
  readonly results: ReadonlyArray<{ ok: boolean; responder?: string; reason?: string }>
}

export function probe(lab: string, from: string, target: string, extra: readonly string[] = []): ProbeSummary {
  const r = labCli(['probe', '--lab', lab, from, target, '--json', ...extra])
  const line = r.stdout.trim().split('\n').pop() ?? ''
  try {
    return JSON.parse(line) as ProbeSummary
  } catch {
    throw new Error(`probe ${from} -> ${target} printed no JSON (${r.code}):\n${r.stdout}\n${r.stderr}`)
  }
}

export function netnsList(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
  return (r.stdout ?? '')
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean)
}

/**
 * Polls `fn` every `intervalMs` until it returns a value (errors count as "not yet"); throws after `timeoutMs`
 * naming `what` and the last error. Returns the value and how long it took.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  fn: () => Promise<T | undefined> | T | undefined,
  intervalMs = 50,
): Promise<{ value: T; ms: number }> {
  const started = performance.now()
  let last: unknown
  while (performance.now() - started < timeoutMs) {
    try {
      const v = await fn()
      if (v !== undefined) return { value: v, ms: performance.now() - started }
    } catch (err) {
      last = err
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`)
}
