import { canonicalJson, isPlainObject } from './canonical-json.ts'
import type { ObjectStore, StoreEvent } from './object-store.ts'
import { ENDPOINT_SLICES, type KubeObject, NODES, PODS, SERVICES } from './resource-types.ts'
import { matchesLabelMap } from './selectors.ts'

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name'
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by'
export const MANAGED_BY = 'endpointslice-controller.k8s.io'
const ZONE_LABEL = 'topology.kubernetes.io/zone'

interface SlicePort {
  name: string
  port: number
  protocol: string
}

type Json = Record<string, unknown>

/**
 * Keeps EndpointSlices in step with Services (with a selector), Pods and Nodes, like the real
 * endpointslice controller: one slice per distinct set of resolved ports (pods can resolve a named
 * targetPort differently), labelled `kubernetes.io/service-name`, owned by the Service. Pods
 * without `status.podIP` or in phase Succeeded/Failed are left out; `conditions.ready` is the Pod's
 * Ready condition; `zone` is the node's `topology.kubernetes.io/zone` label. Slices of a deleted or
 * selector-less Service are removed. Reconciles once per tick after any change, and writes only
 * slices whose content changed, so an unrelated change makes no watch event.
 */
export class EndpointSliceController {
  readonly #store: ObjectStore
  #scheduled = false
  #unsubscribe: (() => void) | undefined

  constructor(store: ObjectStore) {
    this.#store = store
  }

  start(): void {
    this.#unsubscribe = this.#store.subscribe((event) => this.#onEvent(event))
    this.reconcile()
  }

  stop(): void {
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
  }

  #onEvent(event: StoreEvent): void {
    const t = event.resourceType
    if ((t !== SERVICES && t !== PODS && t !== NODES && t !== ENDPOINT_SLICES) || this.#scheduled) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      if (this.#unsubscribe !== undefined) this.reconcile()
    })
  }

  /** Brings every managed slice to its desired state now. */
  reconcile(): void {
    const store = this.#store
    const services = store.list(SERVICES)
    // Nodes are read only when some Service selects pods (their zone label feeds the endpoints).
    const selecting = services.some((svc) => isPlainObject(((svc['spec'] ?? {}) as Json)['selector']))
    const nodes = new Map(selecting ? store.list(NODES).map((n) => [n.metadata.name, n]) : [])
    const wanted = new Set<string>()
    for (const svc of services) {
      const spec = (svc['spec'] ?? {}) as Json
      if (!isPlainObject(spec['selector'])) continue
      const selector = spec['selector'] as Record<string, string>
      const ns = svc.metadata.namespace!
      const pods = store.list(PODS, ns).filter((p) => matchesLabelMap(selector, p.metadata.labels) && eligible(p))
      const groups = new Map<string, { ports: SlicePort[]; endpoints: Json[] }>()
      for (const pod of pods) {
        const ports = resolvePorts(spec, pod)
        const key = canonicalJson(ports)
        const group = groups.get(key) ?? { ports, endpoints: [] }
        groups.set(key, group)
        group.endpoints.push(endpointFor(pod, nodes))
      }
      if (groups.size === 0) groups.set('', { ports: resolvePorts(spec, undefined), endpoints: [] })
      const existing = store
        .list(ENDPOINT_SLICES, ns)
        .filter(
          (s) =>
            s.metadata.labels?.[SERVICE_NAME_LABEL] === svc.metadata.name &&
            s.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY,
        )
      const free = [...existing]
      for (const { ports, endpoints } of groups.values()) {
        const body = { addressType: 'IPv4', endpoints, ports }
        // Reuse the slice whose ports match, else any leftover slice, else a new one.
        const index = free.findIndex((s) => canonicalJson(s['ports']) === canonicalJson(ports))
        const reuse = free.splice(Math.max(index, 0), 1)[0]
        if (reuse === undefined) {
          const created = store.create(ENDPOINT_SLICES, {
            apiVersion: 'discovery.k8s.io/v1',
            kind: 'EndpointSlice',
            metadata: {
              name: '',
              generateName: `${svc.metadata.name}-`,
              namespace: ns,
              labels: sliceLabels(svc),
              ownerReferences: [ownerRef(svc)],
            },
            ...body,
          })
          wanted.add(`${ns}/${created.metadata.name}`)
          continue
        }
        wanted.add(`${ns}/${reuse.metadata.name}`)
        const next: KubeObject = {
          ...reuse,
          ...body,
          metadata: {
            ...reuse.metadata,
            labels: { ...reuse.metadata.labels, ...sliceLabels(svc) },
            ownerReferences: [ownerRef(svc)],
          },
        }
        if (canonicalJson(next) !== canonicalJson(reuse))
          store.update(ENDPOINT_SLICES, { ...next, metadata: { ...next.metadata, resourceVersion: '' } })
      }
    }
    for (const slice of store.list(ENDPOINT_SLICES)) {
      if (slice.metadata.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY) continue
      if (!wanted.has(`${slice.metadata.namespace}/${slice.metadata.name}`)) {
        store.delete(ENDPOINT_SLICES, slice.metadata.namespace, slice.metadata.name)
      }
    }
  }
}

function eligible(pod: KubeObject): boolean {
  const status = (pod['status'] ?? {}) as Json
  return (
    typeof status['podIP'] === 'string' &&
    status['podIP'] !== '' &&
    status['phase'] !== 'Succeeded' &&
    status['phase'] !== 'Failed'
  )
}

function sliceLabels(svc: KubeObject): Record<string, string> {
  return { [SERVICE_NAME_LABEL]: svc.metadata.name, [MANAGED_BY_LABEL]: MANAGED_BY }
}

function ownerRef(svc: KubeObject): Json {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    name: svc.metadata.name,
    uid: svc.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  }
}

function endpointFor(pod: KubeObject, nodes: Map<string, KubeObject>): Json {
  const status = (pod['status'] ?? {}) as Json
  const spec = (pod['spec'] ?? {}) as Json
  const conditions = Array.isArray(status['conditions']) ? (status['conditions'] as Json[]) : []
  const ready = conditions.some((c) => c['type'] === 'Ready' && c['status'] === 'True')
  const endpoint: Json = {
    addresses: [status['podIP']],
    conditions: { ready, serving: ready, terminating: false },
    targetRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid },
  }
  const nodeName = spec['nodeName']
  if (typeof nodeName === 'string' && nodeName !== '') {
    endpoint['nodeName'] = nodeName
    const zone = nodes.get(nodeName)?.metadata.labels?.[ZONE_LABEL]
    if (zone !== undefined) endpoint['zone'] = zone
  }
  return endpoint
}

/**
 * The Service's ports with targetPort resolved against this pod: a number stays, a name becomes
 * the pod's container port of that name; a name the pod lacks drops the port, as upstream does.
 * Without a pod (no endpoints), named ports cannot resolve and numeric ones are kept.
 */
function resolvePorts(spec: Json, pod: KubeObject | undefined): SlicePort[] {
  const out: SlicePort[] = []
  const containers = Array.isArray(((pod?.['spec'] ?? {}) as Json)['containers'])
    ? (((pod?.['spec'] ?? {}) as Json)['containers'] as Json[])
    : []
  for (const raw of Array.isArray(spec['ports']) ? (spec['ports'] as Json[]) : []) {
    const target = raw['targetPort'] ?? raw['port']
    let port: number | undefined
    if (typeof target === 'number') port = target
    else if (typeof target === 'string' && /^\d+$/.test(target)) port = Number(target)
    else if (typeof target === 'string') {
      for (const c of containers) {
        const found = (Array.isArray(c['ports']) ? (c['ports'] as Json[]) : []).find((p) => p['name'] === target)
        if (found !== undefined) port = Number(found['containerPort'])
      }
    }
    if (port === undefined) continue
    // Upstream always sets the name, '' for an unnamed Service port.
    const name = typeof raw['name'] === 'string' ? raw['name'] : ''
    out.push({ name, port, protocol: typeof raw['protocol'] === 'string' ? raw['protocol'] : 'TCP' })
  }
  return out
}
