import type { IncomingMessage, ServerResponse } from 'node:http'
import { ApiError, badRequest, expired, notFound } from './api-error.ts'
import { isPlainObject } from './canonical-json.ts'
import type { ResourceTarget } from './discovery.ts'
import { applyJsonPatch, applyMergePatch } from './json-patch.ts'
import type { ObjectStore } from './object-store.ts'
import { apiVersionOf, type KubeObject, qualifiedName, type ResourceType } from './resource-types.ts'
import { andSelectors, parseFieldSelector, parseLabelSelector } from './selectors.ts'
import { applyStrategicMergePatch } from './strategic-merge-patch.ts'
import { type IncludeObject, toTable } from './table-printer.ts'
import { serveWatch, type WatchOptions } from './watch-stream.ts'

export interface RestContext {
  store: ObjectStore
  watch: WatchOptions
  /** Called with the function that ends each watch opened, so the server can end them on close. */
  trackWatch: (end: () => void) => void
  now: () => Date
}

/** Handles every verb on a resource path; throws ApiError for the caller to turn into a Status. */
export async function handleResource(
  ctx: RestContext,
  target: ResourceTarget,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { type, namespace, name, subresource } = target
  const q = url.searchParams
  if (subresource !== undefined && !type.subresources.includes(subresource)) {
    throw new ApiError(404, 'NotFound', `the server could not find the requested resource`)
  }
  const method = req.method ?? 'GET'
  const store = ctx.store
  const resource = qualifiedName(type)

  if (name === undefined) {
    if (method === 'GET') {
      const selector = andSelectors(
        parseLabelSelector(q.get('labelSelector')),
        parseFieldSelector(q.get('fieldSelector')),
      )
      if (target.watchPath || q.get('watch') === 'true' || q.get('watch') === '1') {
        const timeout = q.get('timeoutSeconds')
        const end = serveWatch(
          store,
          req,
          res,
          {
            type,
            namespace,
            selector,
            resourceVersion: q.get('resourceVersion') ?? '',
            allowBookmarks: q.get('allowWatchBookmarks') === 'true',
            timeoutSeconds: timeout === null ? undefined : Number(timeout),
          },
          ctx.watch,
        )
        ctx.trackWatch(end)
        return
      }
      return sendObject(ctx, req, res, 200, listPage(ctx, target, q, selector), type)
    }
    if (method === 'POST') {
      const body = await readObject(req)
      if (type.namespaced) {
        const bodyNs = body.metadata?.namespace
        if (bodyNs !== undefined && bodyNs !== '' && bodyNs !== namespace) {
          throw badRequest('the namespace of the provided object does not match the namespace sent on the request')
        }
        if (namespace === undefined)
          throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource')
        body.metadata = { ...body.metadata, namespace }
      }
      return sendObject(ctx, req, res, 201, store.create(type, body), type)
    }
    throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource')
  }

  const current = (): KubeObject => {
    const obj = store.get(type, namespace, name)
    if (obj === undefined) throw notFound(resource, name)
    return obj
  }
  const sub = subresource === 'status' ? ({ subresource: 'status' } as const) : {}
  switch (method) {
    case 'GET':
      return sendObject(ctx, req, res, 200, current(), type)
    case 'PUT': {
      const body = await readObject(req)
      if (body.metadata?.name !== name) throw badRequest('the name of the object does not match the name on the URL')
      if (type.namespaced) body.metadata.namespace = namespace ?? 'default'
      return sendObject(ctx, req, res, 200, store.update(type, body, sub), type)
    }
    case 'PATCH': {
      const patched = applyPatch(req.headers['content-type'] ?? '', current(), await readJson(req))
      patched.metadata = { ...patched.metadata, name }
      if (type.namespaced && namespace !== undefined) patched.metadata.namespace = namespace
      return sendObject(ctx, req, res, 200, store.update(type, patched, sub), type)
    }
    case 'DELETE':
      return sendObject(ctx, req, res, 200, store.delete(type, namespace, name), type)
    default:
      throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource')
  }
}

interface ContinueToken {
  rv: number
  after: string
}

/**
 * One page of a list. Pages are cut by (namespace, name) order; a continue token carries the list's
 * resourceVersion and the last key served. Unlike upstream, later pages show the current state
 * rather than a snapshot at the first page's version; a token older than the watch window is 410.
 */
interface ListBody {
  kind: string
  apiVersion: string
  metadata: Record<string, unknown>
  items: KubeObject[]
}

function listPage(
  ctx: RestContext,
  target: ResourceTarget,
  q: URLSearchParams,
  selector: (o: KubeObject) => boolean,
): ListBody {
  const limit = Number(q.get('limit') ?? '0')
  let rv = ctx.store.resourceVersion
  let after = ''
  const token = q.get('continue')
  if (token !== null && token !== '') {
    let parsed: ContinueToken
    try {
      parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as ContinueToken
    } catch {
      throw badRequest('continue key is not valid: incorrect encoded start resourceVersion')
    }
    if (parsed.rv < ctx.store.oldestResumableVersion) {
      throw expired(
        'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
      )
    }
    rv = parsed.rv
    after = parsed.after
  }
  const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`
  const all = ctx.store.list(target.type, target.namespace).filter((o) => selector(o) && keyOf(o) > after)
  const items = limit > 0 ? all.slice(0, limit) : all
  const metadata: Record<string, unknown> = { resourceVersion: String(rv) }
  const last = items.at(-1)
  if (items.length < all.length && last !== undefined) {
    metadata['continue'] = Buffer.from(JSON.stringify({ rv, after: keyOf(last) } satisfies ContinueToken)).toString(
      'base64url',
    )
    metadata['remainingItemCount'] = all.length - items.length
  }
  return { kind: `${target.type.kind}List`, apiVersion: apiVersionOf(target.type), metadata, items }
}

function applyPatch(contentType: string, current: KubeObject, patch: unknown): KubeObject {
  const mediaType = contentType.split(';')[0]?.trim()
  let result: unknown
  switch (mediaType) {
    case 'application/json-patch+json':
      result = applyJsonPatch(current, patch)
      break
    case 'application/merge-patch+json':
      result = applyMergePatch(current, patch)
      break
    case 'application/strategic-merge-patch+json':
      result = applyStrategicMergePatch(current.kind, current, patch)
      break
    default:
      throw new ApiError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (server-side apply is not served)`,
      )
  }
  if (!isPlainObject(result) || !isPlainObject(result['metadata']))
    throw badRequest('the patch removed the object metadata')
  return result as KubeObject
}

const MAX_BODY_BYTES = 3 * 1024 * 1024 // upstream's request size limit

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new ApiError(413, 'BadRequest', 'the request is too large')
    chunks.push(chunk as Buffer)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch (err) {
    throw new ApiError(400, 'BadRequest', `the body of the request is not JSON: ${(err as Error).message}`)
  }
}

async function readObject(req: IncomingMessage): Promise<KubeObject> {
  const body = await readJson(req)
  if (!isPlainObject(body) || (body['metadata'] !== undefined && !isPlainObject(body['metadata']))) {
    throw badRequest('the body of the request must be a Kubernetes object')
  }
  body['metadata'] ??= {}
  return body as KubeObject
}

/** Writes an object or list as JSON, or as a Table when the client asked for one and this is a read. */
function sendObject(
  ctx: RestContext,
  req: IncomingMessage,
  res: ServerResponse,
  code: number,
  value: KubeObject | ListBody,
  type: ResourceType,
): void {
  let body: unknown = value
  const accept = req.headers.accept ?? ''
  if (req.method === 'GET' && /as=Table/.test(accept) && /g=meta\.k8s\.io/.test(accept)) {
    const include = (new URL(req.url ?? '/', 'https://x').searchParams.get('includeObject') ??
      'Metadata') as IncludeObject
    body = isList(value)
      ? toTable(type, value.items, value.metadata, include, ctx.now())
      : toTable(type, [value], { resourceVersion: value.metadata.resourceVersion }, include, ctx.now())
  }
  const text = JSON.stringify(body)
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) })
  res.end(text)
}

function isList(value: KubeObject | ListBody): value is ListBody {
  return Array.isArray(value['items']) && typeof value.kind === 'string' && value.kind.endsWith('List')
}
