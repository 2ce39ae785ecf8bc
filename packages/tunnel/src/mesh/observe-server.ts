import { createServer, type Server } from 'node:net'
import { PodlinkError } from '@podlink/core'

/**
 * The rendezvous half on relay agents: a plain TCP port that writes the caller's address as this host sees it
 * (`<ip> <port>\n`), i.e. the caller's NAT mapping of its source port. Callers connect FROM their mesh port, so the
 * answer is the mapping a punch from that port will use. Listening on two ports lets one relay tell an
 * endpoint-independent (cone) mapping from a per-destination (symmetric) one. The caller closes (with an RST, so no
 * TIME_WAIT is left on its fixed port); the server only times out idle callers.
 */
export interface ObserveServer {
  readonly ports: readonly number[]
  close(): Promise<void>
}

export async function startObserveServer(options: { host?: string; ports: readonly number[] }): Promise<ObserveServer> {
  const servers: Server[] = []
  const close = async (): Promise<void> => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
  }
  try {
    for (const port of options.ports) {
      const server = createServer((socket) => {
        socket.setNoDelay(true)
        socket.setTimeout(5_000, () => socket.destroy())
        socket.on('error', () => socket.destroy())
        socket.on('data', () => socket.destroy())
        socket.write(`${socket.remoteAddress ?? ''} ${socket.remotePort ?? 0}\n`)
      })
      servers.push(server)
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen({ host: options.host ?? '0.0.0.0', port }, () => {
          server.off('error', reject)
          resolve()
        })
      })
    }
  } catch (err) {
    await close()
    throw new PodlinkError('OBSERVE_LISTEN', `Cannot start the observe server as ${String(err)}`, { cause: err })
  }
  // The bound ports (a requested 0 becomes the kernel's choice).
  const ports = servers.map((s) => {
    const address = s.address()
    return typeof address === 'object' && address !== null ? address.port : 0
  })
  return { ports, close }
}
