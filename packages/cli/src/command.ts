/** The shape every command file exports, and what `runCli` hands it. */
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { PodlinkError } from '@podlink/core'
import type { AgentClient } from './agent-client.ts'
import type { Paint } from './render/colour.ts'

export interface CliContext {
  /** Writes one block of output (a newline is appended). */
  readonly out: (text: string) => void
  readonly err: (text: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
  readonly isTTY: boolean
  readonly paint: Paint
  readonly client: AgentClient
  readonly now: () => Date
  /** Aborted on SIGINT: `--watch` and `ping` stop and exit 0. */
  readonly signal: AbortSignal
  /** Waits between `--watch` redraws; resolves early when `signal` aborts. */
  readonly sleep: (ms: number) => Promise<void>
}

export interface Command {
  readonly name: string
  readonly summary: string
  /** The full usage text, flags included. */
  readonly usage: string
  /** Resolves to the exit code: 0 ok, 1 something is wrong, 2 usage. Throws for "no agent" (3). */
  run(ctx: CliContext, argv: readonly string[]): Promise<number>
}

/** The exit codes scripts can rely on. */
export const EXIT = { ok: 0, wrong: 1, usage: 2, noAgent: 3 } as const

type Options = NonNullable<ParseArgsConfig['options']>

/** node:util parseArgs, strict, with its errors turned into ERR_USAGE (exit 2) naming the command's usage. */
export function parseFlags<const O extends Options>(argv: readonly string[], options: O, usage: string) {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new PodlinkError('ERR_USAGE', `Cannot parse the arguments as ${(err as Error).message}\n${usage}`, {
      cause: err,
    })
  }
}

export function usageError(message: string, usage: string): PodlinkError {
  return new PodlinkError('ERR_USAGE', `${message}\n${usage}`)
}

/** Flags every command that can accept them shares. */
export const JSON_FLAG = { json: { type: 'boolean', default: false } } as const
export const WATCH_FLAG = { watch: { type: 'boolean', short: 'w', default: false } } as const

/** `--watch` redraw period: slow enough to read, fast enough to see a path change. */
export const WATCH_INTERVAL_MS = 2000

/**
 * Runs `draw` once, or every WATCH_INTERVAL_MS until SIGINT when `watch` is set. The exit code is the
 * last draw's.
 */
export async function drawOrWatch(ctx: CliContext, watch: boolean, draw: () => Promise<number>): Promise<number> {
  let code = await draw()
  while (watch && !ctx.signal.aborted) {
    await ctx.sleep(WATCH_INTERVAL_MS)
    if (ctx.signal.aborted) break
    if (ctx.isTTY) ctx.out('\x1b[H\x1b[2J')
    code = await draw()
  }
  return code
}
