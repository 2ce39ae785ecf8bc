/**
 * The lab's hook for podlink agents. Until packages/agent provides an entry point there is no agent
 * to start, and the lab says so instead of pretending.
 */
import { existsSync } from 'node:fs'
import { PodlinkError } from '@podlink/core'
import type { Topology } from '../topology/topology.ts'
import { repoPath } from './paths.ts'

export const AGENT_MAIN = repoPath('packages/agent/src/main.ts')

export function agentAvailable(): boolean {
  return existsSync(AGENT_MAIN)
}

export async function startLabAgents(
  t: Topology,
  nodes: readonly string[],
  log: (line: string) => void,
): Promise<void> {
  if (nodes.length === 0) return
  if (!agentAvailable()) {
    throw new PodlinkError(
      'ERR_NO_AGENT',
      `Cannot start agents on ${nodes.join(', ')} as there is no agent yet (packages/agent has no src/main.ts): use --no-agents`,
    )
  }
  log(`starting agents on ${nodes.length} nodes of ${t.name}`)
  throw new PodlinkError('ERR_NO_AGENT', 'Cannot start agents as the agent has no lab launcher yet')
}

/** `pnpm lab agent NODE start|stop|kill|restart`. */
export async function agentCommand(t: Topology, node: string, action: string): Promise<string> {
  if (!t.nodes.some((n) => n.name === node)) {
    throw new PodlinkError('ERR_NO_HOST', `Cannot control an agent on ${node} as lab ${t.name} has no such node`)
  }
  if (!['start', 'stop', 'kill', 'restart'].includes(action)) {
    throw new PodlinkError('ERR_USAGE', `Cannot ${action} an agent: use start, stop, kill or restart`)
  }
  if (!agentAvailable()) {
    throw new PodlinkError(
      'ERR_NO_AGENT',
      `Cannot ${action} the agent on ${node} as there is no agent yet (packages/agent has no src/main.ts)`,
    )
  }
  throw new PodlinkError('ERR_NO_AGENT', 'Cannot control agents as the agent has no lab launcher yet')
}
