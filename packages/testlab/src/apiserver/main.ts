/**
 * `node packages/testlab/src/apiserver/main.ts --config FILE [--verbose]`: runs the API stand-in
 * until SIGTERM or SIGINT, then writes its state and exits 0. Prints exactly one line on stdout,
 * `apiserver listening on https://host:port`, once it accepts connections; errors go to stderr
 * with exit code 1. `--verbose` logs one line per request on stderr.
 */
import { parseArgs } from 'node:util'
import { startApiServer } from './api-server.ts'
import { optionsFromConfig, parseApiServerConfig } from './api-server-config.ts'

const { values } = parseArgs({ options: { config: { type: 'string' }, verbose: { type: 'boolean', default: false } } })
if (values.config === undefined) {
  process.stderr.write('usage: main.ts --config <file.json> [--verbose]\n')
  process.exit(2)
}

try {
  const config = await parseApiServerConfig(values.config)
  const log = values.verbose ? (line: string) => process.stderr.write(line + '\n') : undefined
  const server = await startApiServer(optionsFromConfig(config, log))
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    process.stderr.write(`apiserver stopping on ${signal}\n`)
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`apiserver: ${String(err)}\n`)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  process.stdout.write(`apiserver listening on ${server.url}\n`)
} catch (err) {
  process.stderr.write(`apiserver: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
}
