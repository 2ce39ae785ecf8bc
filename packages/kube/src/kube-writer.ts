import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node'
import { type AbortOptions, PodlinkError } from '@podlink/core'
import { raceAbort } from './cluster-source.ts'
import { type KubeConnection, kubeConfigOf } from './kube-connection.ts'

/** A failed API write; `status` is the HTTP status when the API answered. */
export class KubeApiError extends PodlinkError {
  readonly status: number | undefined

  constructor(action: string, err: unknown) {
    const status = (err as { code?: unknown }).code
    const httpStatus = typeof status === 'number' && status >= 100 && status < 600 ? status : undefined
    const reason = httpStatus === undefined ? (err as Error).message : `the API answered ${httpStatus}`
    super('kube-api', `Cannot ${action} as ${reason}`, { cause: err })
    this.name = 'KubeApiError'
    this.status = httpStatus
  }
}

export interface EventBody {
  readonly namespace: string
  readonly node: string
  readonly type: 'Normal' | 'Warning'
  readonly reason: string
  readonly message: string
  readonly component: string
  readonly instance: string
  readonly at: Date
}

/** The few writes podlink makes; the annotator and recorder depend on this, tests may fake it. */
export interface KubeWriter {
  /** Merge-patches `metadata.annotations` (null deletes a key); returns the Node's annotations after. */
  patchNodeAnnotations(
    node: string,
    patch: Readonly<Record<string, string | null>>,
    options?: AbortOptions,
  ): Promise<Record<string, string>>
  /** Creates a core/v1 Event; returns its generated name. */
  createEvent(event: EventBody, options?: AbortOptions): Promise<string>
  /** Bumps `count` and `lastTimestamp` of an existing Event (merge patch). */
  patchEventCount(namespace: string, name: string, count: number, at: Date, options?: AbortOptions): Promise<void>
}

/**
 * KubeWriter over client-node. The generated client takes no AbortSignal, so an abort stops the
 * wait, not the request; undici's own timeouts bound the request itself.
 */
export function createKubeWriter(connection: KubeConnection): KubeWriter {
  const core = kubeConfigOf(connection).makeApiClient(CoreV1Api)
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
  const call = async <T>(action: string, run: () => Promise<T>, options: AbortOptions): Promise<T> => {
    try {
      return await raceAbort(run(), options.signal)
    } catch (err) {
      if (options.signal?.aborted) throw err
      throw new KubeApiError(action, err)
    }
  }
  return {
    patchNodeAnnotations: async (node, patch, options = {}) => {
      const body = { metadata: { annotations: patch } }
      const after = await call(
        `patch the annotations of Node ${node}`,
        () => core.patchNode({ name: node, body }, merge),
        options,
      )
      return { ...(after.metadata?.annotations ?? {}) }
    },
    createEvent: async (event, options = {}) => {
      const created = await call(
        `create an Event on Node ${event.node}`,
        () =>
          core.createNamespacedEvent({
            namespace: event.namespace,
            body: {
              metadata: { generateName: `${event.node}.`, namespace: event.namespace },
              // Node Events name the Node as uid too, as kubelet does: Nodes are looked up by name.
              involvedObject: { apiVersion: 'v1', kind: 'Node', name: event.node, uid: event.node },
              type: event.type,
              reason: event.reason,
              message: event.message,
              count: 1,
              firstTimestamp: event.at,
              lastTimestamp: event.at,
              source: { component: event.component, host: event.instance },
              reportingComponent: event.component,
              reportingInstance: event.instance,
            },
          }),
        options,
      )
      return created.metadata?.name ?? ''
    },
    patchEventCount: async (namespace, name, count, at, options = {}) => {
      await call(
        `update Event ${namespace}/${name}`,
        () => core.patchNamespacedEvent({ name, namespace, body: { count, lastTimestamp: at.toISOString() } }, merge),
        options,
      )
    },
  }
}
