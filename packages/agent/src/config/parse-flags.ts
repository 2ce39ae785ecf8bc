import { PodlinkError } from '@podlink/core'
import { CONFIG_SCHEMA } from './config-schema.ts'

export interface ParsedArgs {
  readonly command: 'run' | 'config-check' | 'cleanup' | 'help' | 'version'
  readonly configFile: string | null
  readonly flags: Map<string, string>
  readonly positional: readonly string[]
}

const BOOL_FLAGS = new Set(CONFIG_SCHEMA.filter((s) => s.type.kind === 'bool').map((s) => s.flag))

/** `podlink-agent [run] [--config FILE] [--flag value|--flag=value ...]`, `config check FILE`, `cleanup`. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const flags = new Map<string, string>()
  const positional: string[] = []
  let configFile: string | null = null
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (!a.startsWith('--')) {
      positional.push(a)
      continue
    }
    const eq = a.indexOf('=')
    const name = eq < 0 ? a : a.slice(0, eq)
    let value: string | undefined = eq < 0 ? undefined : a.slice(eq + 1)
    if (name === '--help') return { command: 'help', configFile, flags, positional }
    if (name === '--version') return { command: 'version', configFile, flags, positional }
    if (value === undefined) {
      if (
        BOOL_FLAGS.has(name) &&
        (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--') || !['true', 'false'].includes(argv[i + 1]!))
      )
        value = 'true'
      else {
        value = argv[++i]
        if (value === undefined) throw new PodlinkError('ERR_USAGE', `Cannot parse ${name} as it has no value`)
      }
    }
    if (name === '--config') configFile = value
    else flags.set(name, value)
  }
  const [first, second] = positional
  if (first === 'config' && second === 'check')
    return { command: 'config-check', configFile: positional[2] ?? configFile, flags, positional }
  if (first === 'cleanup') return { command: 'cleanup', configFile, flags, positional }
  if (first === undefined || first === 'run') return { command: 'run', configFile, flags, positional }
  throw new PodlinkError(
    'ERR_USAGE',
    `Cannot run podlink-agent ${first}: commands are run (default), config check FILE, cleanup`,
  )
}

export function usage(): string {
  const lines = [
    'usage: podlink-agent [run] [--config FILE] [flags]   run the agent',
    '       podlink-agent config check FILE                validate a config file, listing every problem',
    '       podlink-agent cleanup [--config FILE]          remove rules and state left by a crashed agent',
    '',
    'Options (file path / flag / environment; flags win over the environment, which wins over the file):',
  ]
  for (const s of CONFIG_SCHEMA) {
    lines.push(`  ${s.path.padEnd(22)} ${s.flag.padEnd(20)} ${s.env.padEnd(26)} default ${JSON.stringify(s.default)}`)
    lines.push(`      ${s.doc}`)
  }
  return lines.join('\n')
}
