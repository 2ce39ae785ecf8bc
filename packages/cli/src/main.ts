#!/usr/bin/env node
/**
 * `podlink` (also `kubectl-podlink`): renders what the node's agent knows. Every command reads the
 * one AgentStatus object the agent serves; `--json` prints that object unchanged.
 * Exit codes: 0 ok, 1 the agent answered but something is wrong (see each command), 2 usage, 3 no agent.
 */
import { assertSupportedRuntime, PodlinkError } from '@podlink/core'
import { agentSocket, fetchStatus } from './agent-client.ts'
import { renderRoutes } from './commands/render-routes.ts'

const USAGE = `usage: podlink <command> [--json]
  status      everything the agent knows (routes, services, conflicts, peers, view)
  routes      where each pod CIDR goes from this node, and why`

async function main(argv: string[]): Promise<number> {
  assertSupportedRuntime()
  const json = argv.includes('--json')
  const args = argv.filter((a) => a !== '--json')
  const cmd = args[0] ?? 'status'
  if (cmd === 'help' || cmd === '--help') {
    console.log(USAGE)
    return 0
  }
  if (!['status', 'routes'].includes(cmd)) {
    console.error(USAGE)
    return 2
  }
  const status = await fetchStatus(agentSocket())
  if (json) {
    console.log(JSON.stringify(cmd === 'routes' ? status.routes : status, null, 2))
    return 0
  }
  console.log(renderRoutes(status))
  return status.conflicts.length > 0 ? 1 : 0
}

try {
  process.exitCode = await main(process.argv.slice(2))
} catch (err) {
  console.error(err instanceof PodlinkError ? `podlink: ${err.message}` : err)
  process.exitCode = err instanceof PodlinkError && err.code === 'ERR_NO_AGENT' ? 3 : 1
}
