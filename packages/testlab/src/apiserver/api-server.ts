import { readFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { PodlinkError } from '@podlink/core'
import { ApiError } from './api-error.ts'
import {
  apiGroup,
  apiGroupList,
  apiResourceList,
  coreApiVersions,
  parseResourcePath,
  versionInfo,
} from './discovery.ts'
import { EndpointSliceController } from './endpoint-slice-controller.ts'
import { ObjectStore } from './object-store.ts'
import { openApiV2 } from './openapi.ts'
import { findTypeByKind, NAMESPACES } from './resource-types.ts'
import { handleResource, type RestContext } from './rest-handler.ts'
import { readSeedFile, StateFile } from './state-file.ts'

export interface ApiServerOptions {
  host?: string
  /** 0 picks a free port. */
  port?: number
  /** PEM strings or, with `certFile`/`keyFile`, paths. */
  cert?: string
  key?: string
  certFile?: string
  keyFile?: string
  /** Bearer token -> user name. Every known user may do everything (the lab has no RBAC). */
  tokens: Record<string, string>
  /** Where the store is kept across restarts; without it the state lives in memory only. */
  stateFile?: string
  /** Objects created at first start (no state file yet). */
  seedFile?: string
  serviceCIDR?: string
  /** Changes kept for watch resumes; older resourceVersions get 410. Default 1000. */
  watchWindow?: number
  /** Interval of BOOKMARK events on watches that allow them. Default 10 s. */
  bookmarkIntervalMs?: number
  /** One line per request, for the lab's log. */
  log?: (line: string) => void
  now?: () => Date
}

export interface RunningApiServer {
  url: string
  port: number
  store: ObjectStore
  /** Drops the whole watch window, so the next resume from an older resourceVersion gets 410. */
  compact(): void
  /** Ends every watch, stops listening and writes the state file. */
  close(): Promise<void>
}

/** Upstream ends watches after 30-60 min so that clients rebalance; the lab keeps the lower bound. */
const MAX_WATCH_SECONDS = 1800

/**
 * Starts the Kubernetes API stand-in: HTTPS, bearer-token authentication, the REST and watch
 * protocol for the served resources, discovery, and the EndpointSlice controller. Resolves once
 * listening. State is loaded from `stateFile` if it exists, else seeded from `seedFile`.
 */
export async function startApiServer(options: ApiServerOptions): Promise<RunningApiServer> {
  const now = options.now ?? (() => new Date())
  const store = new ObjectStore({
    ...(options.watchWindow === undefined ? {} : { watchWindow: options.watchWindow }),
    ...(options.serviceCIDR === undefined ? {} : { serviceCIDR: options.serviceCIDR }),
    now,
  })
  const stateFile = options.stateFile === undefined ? undefined : new StateFile(options.stateFile, store)
  const loaded = stateFile?.load() ?? false
  store.ensureSystemNamespaces()
  const controller = new EndpointSliceController(store)
  if (!loaded && options.seedFile !== undefined) await seed(store, options.seedFile)
  controller.start()
  stateFile?.watch()

  const watches = new Set<() => void>()
  const ctx: RestContext = {
    store,
    now,
    watch: { bookmarkIntervalMs: options.bookmarkIntervalMs ?? 10_000, maxTimeoutSeconds: MAX_WATCH_SECONDS },
    trackWatch: (end) => {
      const wrapped = () => {
        watches.delete(wrapped)
        end()
      }
      watches.add(wrapped)
    },
  }
  const tokens = new Map(Object.entries(options.tokens))
  const cert = options.cert ?? (await readFile(required(options.certFile, 'certFile'), 'utf8'))
  const key = options.key ?? (await readFile(required(options.keyFile, 'keyFile'), 'utf8'))
  const server: Server = createServer({ cert, key }, (req, res) => {
    const started = Date.now()
    res.on('finish', () => options.log?.(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`))
    handle(ctx, tokens, req, res).catch((err: unknown) => {
      const apiError =
        err instanceof ApiError
          ? err
          : new ApiError(500, 'InternalError', `Internal error occurred: ${(err as Error).message}`)
      if (apiError.httpCode === 500) options.log?.(`internal error: ${(err as Error).stack ?? String(err)}`)
      if (res.headersSent) {
        res.end()
        return
      }
      const text = JSON.stringify(apiError.toStatus())
      res.writeHead(apiError.httpCode, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(text),
      })
      res.end(text)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  const host = options.host ?? '127.0.0.1'
  const hostPart = host.includes(':') ? `[${host}]` : host
  let closed: Promise<void> | undefined
  return {
    url: `https://${hostPart}:${port}`,
    port,
    store,
    compact: () => store.compact(),
    close: () => {
      closed ??= (async () => {
        for (const end of [...watches]) end()
        controller.stop()
        await new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        })
        stateFile?.close()
      })()
      return closed
    },
  }
}

async function handle(ctx: RestContext, tokens: Map<string, string>, req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? '/', 'https://apiserver')
  const segments = url.pathname.split('/').filter((s) => s !== '')
  const path = url.pathname.replace(/\/+$/, '')
  // Health probes and /version are public, as upstream's system:public-info-viewer makes them.
  if (path === '/healthz' || path === '/readyz' || path === '/livez') return sendText(res, 'ok')
  if (path === '/version') return sendJson(res, versionInfo())
  const auth = req.headers.authorization ?? ''
  const match = /^Bearer\s+(\S+)$/i.exec(auth)
  if (match === null || !tokens.has(match[1]!)) throw new ApiError(401, 'Unauthorized', 'Unauthorized')

  if (path === '/openapi/v2') {
    const doc = openApiV2(req)
    res.writeHead(200, { 'Content-Type': doc.contentType, 'Content-Length': doc.body.length })
    res.end(doc.body)
    return
  }
  if (path === '/api') return sendJson(res, coreApiVersions(req.socket.localAddress + ':' + req.socket.localPort))
  if (path === '/apis') return sendJson(res, apiGroupList())
  let group: string
  let version: string | undefined
  let rest: string[]
  if (segments[0] === 'api') {
    group = ''
    version = segments[1]
    rest = segments.slice(2)
  } else if (segments[0] === 'apis' && segments[1] !== undefined) {
    group = segments[1]
    version = segments[2]
    rest = segments.slice(3)
    if (version === undefined) {
      const doc = apiGroup(group)
      if (doc !== undefined) return sendJson(res, doc)
    }
  } else {
    throw notServed()
  }
  if (version === undefined) throw notServed()
  if (rest.length === 0) {
    const doc = apiResourceList(group, version)
    if (doc === undefined) throw notServed()
    return sendJson(res, doc)
  }
  const target = parseResourcePath(group, version, rest)
  if (target === undefined) throw notServed()
  return handleResource(ctx, target, url, req, res)
}

/** Upstream answers unknown paths (OpenAPI included: kubectl copes without it) with this 404 Status. */
function notServed(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource')
}

async function seed(store: ObjectStore, seedFile: string): Promise<void> {
  for (const obj of await readSeedFile(seedFile)) {
    const type = findTypeByKind(obj.apiVersion, obj.kind)!
    if (type.namespaced) {
      const ns = obj.metadata?.namespace || 'default'
      if (store.get(NAMESPACES, undefined, ns) === undefined) {
        store.create(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } })
      }
    }
    store.create(type, obj)
  }
}

function sendJson(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) })
  res.end(text)
}

function sendText(res: ServerResponse, text: string): void {
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' })
  res.end(text)
}

function required(value: string | undefined, name: string): string {
  if (value === undefined)
    throw new PodlinkError('apiserver-config', `Cannot start the API server as neither ${name} nor its PEM was given`)
  return value
}
