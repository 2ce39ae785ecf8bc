/**
 * The agent's local status API: HTTP over a Unix socket. `GET /status` answers the one AgentStatus
 * object that the CLI renders and `--json` prints; `GET /trace?dst=` explains one destination;
 * `GET /ping?node=&count=` streams PingEvents as NDJSON. The socket is 0660: only root (and the
 * socket's group) on the node can read the mesh's state.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs'
import { createServer, type ServerResponse } from 'node:http'
import { dirname } from 'node:path'
import type { AgentStatus, DestinationTrace, PingEvent } from '@podlink/core'
import { hasCode } from '@podlink/core'

export interface StatusHandlers {
  status(): AgentStatus
  /** Throws ERR_BAD_DESTINATION for a malformed destination (answered 400). */
  trace(dst: string): DestinationTrace
  /** Null for an unknown node (answered 404); otherwise the probes as they complete, then the summary. */
  ping(node: string, count: number, signal: AbortSignal): AsyncIterable<PingEvent> | null
}

export interface StatusServer {
  close(): Promise<void>
}

const MAX_PING_COUNT = 1000

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

export async function startStatusServer(socketPath: string, handlers: StatusHandlers): Promise<StatusServer> {
  mkdirSync(dirname(socketPath), { recursive: true })
  // A socket file left by a crashed agent would make listen() fail with EADDRINUSE.
  rmSync(socketPath, { force: true })
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://agent')
    if (req.method !== 'GET') return sendJson(res, 405, { error: `${req.method} is not served; use GET` })
    try {
      switch (url.pathname) {
        case '/status':
          return sendJson(res, 200, handlers.status())
        case '/trace':
          return sendJson(res, 200, handlers.trace(url.searchParams.get('dst') ?? ''))
        case '/ping': {
          const node = url.searchParams.get('node') ?? ''
          const count = Math.min(Math.max(1, Number(url.searchParams.get('count') ?? 4) || 4), MAX_PING_COUNT)
          const abort = new AbortController()
          res.on('close', () => abort.abort())
          const events = handlers.ping(node, count, abort.signal)
          if (!events) return sendJson(res, 404, { error: `no peer named ${JSON.stringify(node)}: see podlink peers` })
          res.writeHead(200, { 'content-type': 'application/x-ndjson' })
          void (async () => {
            for await (const e of events) res.write(`${JSON.stringify(e)}\n`)
            res.end()
          })().catch((err: unknown) => res.destroy(err instanceof Error ? err : new Error(String(err))))
          return
        }
        default:
          return sendJson(res, 404, {
            error: `no such endpoint ${url.pathname}; try /status, /trace?dst=, /ping?node=`,
          })
      }
    } catch (err) {
      if (hasCode(err, 'ERR_BAD_DESTINATION')) return sendJson(res, 400, { error: (err as Error).message })
      return sendJson(res, 500, { error: String(err) })
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(socketPath, () => resolve())
  })
  chmodSync(socketPath, 0o660)
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
        rmSync(socketPath, { force: true })
      }),
  }
}
