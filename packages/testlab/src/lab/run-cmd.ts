/** Runs system commands for the lab; a failure throws with the command and its stderr. */
import { spawn, spawnSync } from 'node:child_process'
import { PodlinkError } from '@podlink/core'

export interface CmdResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export function runSync(argv: readonly string[], options: { input?: string; allowFail?: boolean } = {}): CmdResult {
  const r = spawnSync(argv[0]!, argv.slice(1), { input: options.input ?? '', encoding: 'utf8', maxBuffer: 64 << 20 })
  const res = { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') }
  if (res.code !== 0 && !options.allowFail) {
    throw new PodlinkError(
      'ERR_LAB_COMMAND',
      `Cannot run \`${argv.join(' ')}\` as it exited ${res.code}: ${res.stderr.trim() || res.stdout.trim()}`,
    )
  }
  return res
}

/** The async twin of runSync, so independent namespaces are configured in parallel. */
export function run(
  argv: readonly string[],
  options: { input?: string; allowFail?: boolean } = {},
): Promise<CmdResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
    })
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    child.on('error', reject)
    child.on('close', (code) => {
      const res = { code: code ?? -1, stdout, stderr }
      if (res.code !== 0 && !options.allowFail) {
        reject(
          new PodlinkError(
            'ERR_LAB_COMMAND',
            `Cannot run \`${argv.join(' ')}\` as it exited ${res.code}: ${stderr.trim() || stdout.trim()}`,
          ),
        )
      } else resolve(res)
    })
    if (child.stdin) {
      // A command may exit without reading its input; that is its exit code's business, not a crash.
      child.stdin.on('error', () => {})
      child.stdin.end(options.input)
    }
  })
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!
      await fn(item)
    }
  })
  await Promise.all(workers)
}
