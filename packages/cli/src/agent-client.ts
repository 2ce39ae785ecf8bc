/**
 * Talks to the node's agent over its Unix socket (HTTP). Endpoints, all GET:
 * - `/status`: the AgentStatus object;
 * - `/trace?dst=IP[:PORT][/udp]`: a DestinationTrace (400 `{"error"}` for a malformed destination);
 * - `/ping?node=X&count=N`: NDJSON, one PingEvent per line, ending with a `summary` (404 for an unknown node).
 * Errors: ERR_NO_AGENT when nothing answers on the socket; ERR_AGENT_BAD_REQUEST for a 400 (the caller's
 * input); ERR_AGENT_REQUEST for any other non-200 answer or a body that is not what the contract says.
 */
import { request } from 'node:http'
import type { AgentStatus, DestinationTrace, PingEvent } from '@podlink/core'
import { PodlinkError } from '@podlink/core'

export const DEFAULT_SOCKET = '/run/podlink/agent.sock'

export function agentSocket(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env.PODLINK_AGENT_SOCKET || DEFAULT_SOCKET
}

export interface AgentClient {
  status(): Promise<AgentStatus>
  trace(dst: string): Promise<DestinationTrace>
  /** Yields events as the agent streams them; ends after the summary or when `signal` aborts. */
  ping(node: string, count: number, signal?: AbortSignal): AsyncIterable<PingEvent>
}

export function createAgentClient(socketPath: string, timeoutMs = 5000): AgentClient {
  return {
    status: async () => JSON.parse(await get(socketPath, '/status', timeoutMs, 'read the status')) as AgentStatus,
    trace: async (dst) =>
      JSON.parse(
        await get(socketPath, `/trace?dst=${encodeURIComponent(dst)}`, timeoutMs, `trace ${dst}`),
      ) as DestinationTrace,
    ping: (node, count, signal) => pingStream(socketPath, node, count, signal),
  }
}

/** Compatibility for callers of the first CLI: the status, fetched once. */
export function fetchStatus(socketPath: string, timeoutMs = 5000): Promise<AgentStatus> {
  return createAgentClient(socketPath, timeoutMs).status()
}

function noAgent(socketPath: string, err: NodeJS.ErrnoException): PodlinkError {
  return new PodlinkError(
    'ERR_NO_AGENT',
    `Cannot reach the podlink agent at ${socketPath} (${err.code ?? err.message}): is podlink-agent running on this node? (set PODLINK_AGENT_SOCKET to use another socket)`,
    { cause: err },
  )
}

function answerError(what: string, status: number | undefined, body: string): PodlinkError {
  let message = body
  try {
    message = (JSON.parse(body) as { error?: string }).error ?? body
  } catch {
    // Not JSON: the raw body is the most useful message there is.
  }
  return new PodlinkError(
    status === 400 ? 'ERR_AGENT_BAD_REQUEST' : 'ERR_AGENT_REQUEST',
    `Cannot ${what} as the agent answered ${status}: ${message}`,
  )
}

function get(socketPath: string, path: string, timeoutMs: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        body += d
      })
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(answerError(what, res.statusCode, body))
        try {
          JSON.parse(body)
          resolve(body)
        } catch (err) {
          reject(
            new PodlinkError('ERR_AGENT_REQUEST', `Cannot ${what} as the agent's answer is not JSON`, { cause: err }),
          )
        }
      })
    })
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })))
    req.on('error', (err: NodeJS.ErrnoException) => reject(noAgent(socketPath, err)))
    req.end()
  })
}

async function* pingStream(
  socketPath: string,
  node: string,
  count: number,
  signal?: AbortSignal,
): AsyncIterable<PingEvent> {
  const path = `/ping?node=${encodeURIComponent(node)}&count=${count}`
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', ...(signal ? { signal } : {}) }, resolve)
    req.on('error', (err: NodeJS.ErrnoException) => reject(err.name === 'AbortError' ? err : noAgent(socketPath, err)))
    req.end()
  })
  res.setEncoding('utf8')
  if (res.statusCode !== 200) {
    let body = ''
    for await (const d of res) body += d as string
    throw answerError(`ping ${node}`, res.statusCode, body)
  }
  let buffered = ''
  try {
    for await (const chunk of res) {
      buffered += chunk as string
      let nl = buffered.indexOf('\n')
      while (nl >= 0) {
        const line = buffered.slice(0, nl).trim()
        buffered = buffered.slice(nl + 1)
        if (line !== '') yield JSON.parse(line) as PingEvent
        nl = buffered.indexOf('\n')
      }
    }
  } catch (err) {
    if (signal?.aborted) return
    throw err
  }
  if (buffered.trim() !== '') yield JSON.parse(buffered) as PingEvent
}
