/**
 * The agent's observability HTTP listener (TCP, for Prometheus and the kubelet's probes):
 * - `GET /metrics`: Prometheus text exposition 0.0.4;
 * - `GET /healthz`: 200 `ok` when `health().healthy`, else 503 with one reason per line (kube-proxy's
 *   meaning: queued changes were applied in time);
 * - `GET /readyz`: the same for `health().ready` (initial sync done, rules in place, relay held if NATed).
 * Every other path is 404. The providers are called per request and must not block.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { HealthStatus } from '@podlink/core'

export interface ObserveServerOptions {
  /** Listen address; the DaemonSet's probes reach it on the node IP (hostNetwork), e.g. `0.0.0.0`. */
  readonly address: string
  /** 0 picks a free port (tests). */
  readonly port: number
}

export interface ObserveServerDeps {
  /** The full exposition text, e.g. `() => metrics.render(agent.status())`. */
  readonly metrics: () => string
  readonly health: () => HealthStatus
}

export interface ObserveServer {
  /** The bound port (useful when `port` was 0). */
  readonly port: number
  close(): Promise<void>
}

function probe(ok: boolean, reasons: readonly string[]): { code: number; body: string } {
  return ok
    ? { code: 200, body: 'ok\n' }
    : { code: 503, body: `${reasons.length > 0 ? reasons.join('\n') : 'not ok'}\n` }
}

export async function startObserveServer(
  options: ObserveServerOptions,
  deps: ObserveServerDeps,
): Promise<ObserveServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    const send = (code: number, type: string, body: string): void => {
      res.writeHead(code, {
        'content-type': type,
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
      })
      res.end(req.method === 'HEAD' ? undefined : body)
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'GET only\n')
    try {
      if (path === '/metrics') return send(200, 'text/plain; version=0.0.4; charset=utf-8', deps.metrics())
      if (path === '/healthz' || path === '/readyz') {
        const h = deps.health()
        const { code, body } = probe(path === '/healthz' ? h.healthy : h.ready, h.reasons)
        return send(code, 'text/plain; charset=utf-8', body)
      }
      send(404, 'text/plain', 'try /metrics, /healthz or /readyz\n')
    } catch (err) {
      // A failing provider is the agent's bug; answer 500 with it rather than dropping the scrape silently.
      send(500, 'text/plain', `Cannot answer ${path} as ${(err as Error).message}\n`)
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.address, () => resolve())
  })
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
