import type { IncomingMessage, ServerResponse } from 'node:http'
import { ApiError, badRequest } from './api-error.ts'
import type { ObjectStore, StoreEvent } from './object-store.ts'
import { apiVersionOf, type KubeObject, type ResourceType } from './resource-types.ts'
import type { Selector } from './selectors.ts'

export interface WatchRequest {
  type: ResourceType
  namespace: string | undefined
  selector: Selector
  /** The `resourceVersion` parameter: '' or '0' start with synthetic ADDED events for the current state. */
  resourceVersion: string
  allowBookmarks: boolean
  timeoutSeconds: number | undefined
}

export interface WatchOptions {
  bookmarkIntervalMs: number
  /** Server-side cap on a watch's life when the client sets no timeoutSeconds (upstream: 30-60 min). */
  maxTimeoutSeconds: number
}

/**
 * Serves one watch as upstream does: HTTP 200, then one JSON event per line. Guarantees:
 * events arrive in resourceVersion order, each exactly once, with no gap between the replayed
 * window (or the synthetic ADDED snapshot) and live changes; a selector watch sees an object that
 * stops matching as DELETED and one that starts matching as ADDED; a resume from before the
 * retained window gets one ERROR event carrying a 410 Expired Status and the stream ends.
 * Returns a function that ends the stream (used when the server closes).
 */
export function serveWatch(
  store: ObjectStore,
  req: IncomingMessage,
  res: ServerResponse,
  request: WatchRequest,
  options: WatchOptions,
): () => void {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' })
  res.flushHeaders()
  const send = (type: string, object: unknown) => res.write(JSON.stringify({ type, object }) + '\n')
  const inScope = (obj: KubeObject | undefined): boolean =>
    obj !== undefined &&
    (request.namespace === undefined || obj.metadata.namespace === request.namespace) &&
    request.selector(obj)

  const deliver = (event: StoreEvent): void => {
    if (event.resourceType !== request.type) return
    const was = event.type !== 'ADDED' && inScope(event.previous)
    const is = event.type !== 'DELETED' && inScope(event.object)
    if (was && is) send('MODIFIED', event.object)
    else if (is) send('ADDED', event.object)
    else if (was) send('DELETED', event.object)
  }

  let backlog: Array<StoreEvent | KubeObject>
  const rv = request.resourceVersion
  try {
    if (rv === '' || rv === '0') {
      backlog = store.list(request.type, request.namespace).filter(request.selector)
    } else {
      const from = Number(rv)
      if (!Number.isInteger(from) || from < 0) throw badRequest(`invalid resource version: ${rv}`)
      backlog = store.eventsSince(request.type, from)
    }
  } catch (err) {
    if (!(err instanceof ApiError)) throw err
    send('ERROR', err.toStatus())
    res.end()
    return () => {}
  }
  // Subscribing in the same tick as the backlog read: no change can slip in between.
  const unsubscribe = store.subscribe(deliver)
  for (const item of backlog) {
    if (isStoreEvent(item)) deliver(item)
    else send('ADDED', item)
  }

  const timers: NodeJS.Timeout[] = []
  if (request.allowBookmarks) {
    const bookmark = {
      kind: request.type.kind,
      apiVersion: apiVersionOf(request.type),
      metadata: { resourceVersion: '' },
    }
    timers.push(
      setInterval(() => {
        bookmark.metadata.resourceVersion = String(store.resourceVersion)
        send('BOOKMARK', bookmark)
      }, options.bookmarkIntervalMs),
    )
  }
  const timeout = Math.min(request.timeoutSeconds ?? options.maxTimeoutSeconds, options.maxTimeoutSeconds)
  let ended = false
  const end = (): void => {
    if (ended) return
    ended = true
    unsubscribe()
    for (const t of timers) clearTimeout(t)
    res.end()
  }
  timers.push(setTimeout(end, timeout * 1000))
  req.on('close', end)
  res.on('close', end)
  return end
}

function isStoreEvent(item: StoreEvent | KubeObject): item is StoreEvent {
  return 'resourceType' in item && 'rv' in item
}
