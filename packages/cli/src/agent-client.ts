/** Fetches the AgentStatus from the node's agent over its Unix socket. */
import { request } from 'node:http'
import type { AgentStatus } from '@podlink/core'
import { PodlinkError } from '@podlink/core'

export const DEFAULT_SOCKET = '/run/podlink/agent.sock'

export function agentSocket(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env.PODLINK_AGENT_SOCKET || DEFAULT_SOCKET
}

export function fetchStatus(socketPath: string, timeoutMs = 5000): Promise<AgentStatus> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/status', method: 'GET', timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        body += d
      })
      res.on('end', () => {
        if (res.statusCode !== 200)
          return reject(
            new PodlinkError(
              'ERR_AGENT_STATUS',
              `Cannot read the agent's status as it answered ${res.statusCode}: ${body}`,
            ),
          )
        try {
          resolve(JSON.parse(body) as AgentStatus)
        } catch (err) {
          reject(
            new PodlinkError('ERR_AGENT_STATUS', "Cannot read the agent's status as it is not JSON", { cause: err }),
          )
        }
      })
    })
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        new PodlinkError(
          'ERR_NO_AGENT',
          `Cannot reach the podlink agent at ${socketPath} (${err.code ?? err.message}): is podlink-agent running on this node? (set PODLINK_AGENT_SOCKET to use another socket)`,
          { cause: err },
        ),
      ),
    )
    req.end()
  })
}
