/**
 * Dispatch and exit codes, apart from process wiring so tests drive it with a fake client:
 * 0 ok, 1 something is wrong (the command says what), 2 usage, 3 no agent answers.
 */
import { hasCode, PodlinkError } from '@podlink/core'
import { type CliContext, type Command, EXIT } from './command.ts'
import { conflictsCommand } from './commands/conflicts.ts'
import { doctorCommand } from './commands/doctor.ts'
import { flowsCommand } from './commands/flows.ts'
import { graphCommand } from './commands/graph.ts'
import { peersCommand } from './commands/peers.ts'
import { pingCommand } from './commands/ping.ts'
import { routesCommand } from './commands/routes.ts'
import { servicesCommand } from './commands/services.ts'
import { statusCommand } from './commands/status.ts'
import { traceCommand } from './commands/trace.ts'

export const COMMANDS: readonly Command[] = [
  statusCommand,
  peersCommand,
  routesCommand,
  servicesCommand,
  flowsCommand,
  conflictsCommand,
  pingCommand,
  traceCommand,
  graphCommand,
  doctorCommand,
]

export function renderUsage(commands: readonly Command[] = COMMANDS): string {
  const w = Math.max(...commands.map((c) => c.name.length))
  return [
    'usage: podlink <command> [flags]     (also: kubectl podlink <command>)',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'podlink <command> --help for its flags. Every command takes --json.',
    'The agent is reached on $PODLINK_AGENT_SOCKET (default /run/podlink/agent.sock).',
    'exit codes: 0 ok, 1 something is wrong, 2 usage, 3 no agent answers',
  ].join('\n')
}

export function exitCodeOf(err: unknown): number {
  if (hasCode(err, 'ERR_USAGE') || hasCode(err, 'ERR_AGENT_BAD_REQUEST')) return EXIT.usage
  if (hasCode(err, 'ERR_NO_AGENT')) return EXIT.noAgent
  return EXIT.wrong
}

/** Runs one command line to its exit code; errors are printed on `ctx.err`, never thrown. */
export async function runCli(argv: readonly string[], ctx: CliContext): Promise<number> {
  const [first, ...rest] = argv
  if (first === 'help' || first === '--help' || first === '-h') {
    const cmd = COMMANDS.find((c) => c.name === rest[0])
    ctx.out(cmd ? cmd.usage : renderUsage())
    return EXIT.ok
  }
  // Bare `podlink` and `podlink --json` mean `podlink status`.
  const name = first === undefined || first.startsWith('-') ? 'status' : first
  const args = first === undefined || first.startsWith('-') ? argv : rest
  const cmd = COMMANDS.find((c) => c.name === name)
  if (!cmd) {
    ctx.err(`podlink: no command ${name}\n${renderUsage()}`)
    return EXIT.usage
  }
  if (args.includes('--help') || args.includes('-h')) {
    ctx.out(cmd.usage)
    return EXIT.ok
  }
  try {
    return await cmd.run(ctx, args)
  } catch (err) {
    if (err instanceof PodlinkError || hasCode(err, 'ERR_NO_AGENT'))
      ctx.err(`podlink ${name}: ${(err as Error).message}`)
    else ctx.err(`podlink ${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    return exitCodeOf(err)
  }
}
