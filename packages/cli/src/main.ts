#!/usr/bin/env node
/**
 * `podlink` (also `kubectl-podlink`, so `kubectl podlink ...` works): renders what the node's agent knows.
 * Process wiring only; see run-cli.ts for dispatch and exit codes.
 */
import { setTimeout as delay } from 'node:timers/promises'
import { assertSupportedRuntime } from '@podlink/core'
import { agentSocket, createAgentClient } from './agent-client.ts'
import { ansiColour, noColour, wantColour } from './render/colour.ts'
import { runCli } from './run-cli.ts'

assertSupportedRuntime()
const controller = new AbortController()
process.once('SIGINT', () => controller.abort())
const isTTY = process.stdout.isTTY === true
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  // `podlink flows --watch | head` closes the pipe: that is a normal way to stop, not a failure.
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

process.exitCode = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
  isTTY,
  paint: wantColour(isTTY, process.env) ? ansiColour : noColour,
  client: createAgentClient(agentSocket()),
  now: () => new Date(),
  signal: controller.signal,
  sleep: (ms) => delay(ms, undefined, { signal: controller.signal }).catch(() => undefined),
})
