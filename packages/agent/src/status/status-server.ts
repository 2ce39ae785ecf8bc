/**
 * The agent's local status API: HTTP over a Unix socket, `GET /status` answers the one AgentStatus
 * object that the CLI renders and `--json` prints. The socket is 0660 so that only root (and the
 * socket's group) on the node can read the mesh's state.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { dirname } from 'node:path'
import type { AgentStatus } from '@podlink/core'

export interface StatusServer {
  close(): Promise<void>
}

export async function startStatusServer(socketPath: string, getStatus: () => AgentStatus): Promise<StatusServer> {
  mkdirSync(dirname(socketPath), { recursive: true })
  // A socket file left by a crashed agent would make listen() fail with EADDRINUSE.
  rmSync(socketPath, { force: true })
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/status' || req.url === '/status?')) {
      const body = JSON.stringify(getStatus())
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      res.end(body)
      return
    }
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: `no such endpoint ${req.method} ${req.url}; try GET /status` }))
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
