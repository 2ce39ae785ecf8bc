import { randomUUID } from 'node:crypto'
import { alreadyExists, conflict, expired, invalid, notFound } from './api-error.ts'
import { canonicalJson } from './canonical-json.ts'
import { ClusterIpAllocator } from './cluster-ip-allocator.ts'
import { applyCreateDefaults, applyUpdateDefaults, type DefaultsContext } from './object-defaults.ts'
import {
  apiVersionOf,
  findTypeByKind,
  type KubeObject,
  NAMESPACES,
  qualifiedName,
  RESOURCE_TYPES,
  type ResourceType,
  SERVICES,
  typeKey,
} from './resource-types.ts'

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED'

/** One change, as kept in the watch window. `previous` lets a selector watch turn edits into ADDED/DELETED. */
export interface StoreEvent {
  type: WatchEventType
  resourceType: ResourceType
  object: KubeObject
  previous: KubeObject | undefined
  rv: number
}

export interface ObjectStoreOptions {
  /** How many past changes a watch can resume across; older resourceVersions get 410. Default 1000. */
  watchWindow?: number
  /** IPv4 CIDR for Service ClusterIPs. Default 10.96.0.0/12, kubeadm's default. */
  serviceCIDR?: string
  now?: () => Date
}

/** The persisted form of the store: every object and the counter, nothing else. */
export interface StoreState {
  apiVersion: 'podlink.io/apiserver-state/v1'
  resourceVersion: number
  objects: KubeObject[]
}

export interface WriteOptions {
  /** `status`: only `.status` is taken from the new object. Otherwise `.status` is kept for types with a status subresource. */
  subresource?: 'status' | undefined
}

const DEFAULT_WATCH_WINDOW = 1000
const NAMESPACES_AT_START = ['default', 'kube-system', 'kube-public', 'kube-node-lease']
const GENERATE_NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'

/**
 * Every object of the cluster under one global resourceVersion counter, with a bounded window of
 * past changes for watches. All reads return copies; every write bumps the counter exactly once
 * (a write that changes nothing is a no-op and bumps nothing, as upstream) and is announced to
 * subscribers synchronously, in resourceVersion order.
 */
export class ObjectStore {
  readonly #objects = new Map<string, Map<string, KubeObject>>()
  readonly #history: StoreEvent[] = []
  readonly #listeners = new Set<(event: StoreEvent) => void>()
  readonly #window: number
  readonly #now: () => Date
  readonly #defaults: DefaultsContext
  #rv = 0
  /** The oldest resourceVersion a watch may resume from: every change after it is in #history. */
  #floor = 0

  constructor(options: ObjectStoreOptions = {}) {
    this.#window = options.watchWindow ?? DEFAULT_WATCH_WINDOW
    this.#now = options.now ?? (() => new Date())
    const allocator = new ClusterIpAllocator(options.serviceCIDR ?? '10.96.0.0/12')
    this.#defaults = { allocator, usedClusterIps: () => this.#usedClusterIps() }
    for (const type of RESOURCE_TYPES) this.#objects.set(typeKey(type), new Map())
  }

  get resourceVersion(): number {
    return this.#rv
  }

  /** Resumes below this resourceVersion are answered with 410 Expired. */
  get oldestResumableVersion(): number {
    return this.#floor
  }

  /** Creates the namespaces every cluster has, when missing. */
  ensureSystemNamespaces(): void {
    for (const name of NAMESPACES_AT_START) {
      if (this.get(NAMESPACES, undefined, name) === undefined) {
        this.create(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } })
      }
    }
  }

  get(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const obj = this.#bucket(type).get(objectKey(type, namespace, name))
    return obj === undefined ? undefined : structuredClone(obj)
  }

  /** Objects of one type, in one namespace or all, sorted by namespace then name. */
  list(type: ResourceType, namespace?: string): KubeObject[] {
    const out: KubeObject[] = []
    for (const [key, obj] of [...this.#bucket(type)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (namespace === undefined || !type.namespaced || key.startsWith(`${namespace}/`)) out.push(structuredClone(obj))
    }
    return out
  }

  create(type: ResourceType, input: KubeObject): KubeObject {
    const obj = structuredClone(input)
    obj.apiVersion = apiVersionOf(type)
    obj.kind = type.kind
    const meta = obj.metadata ?? { name: '' }
    obj.metadata = meta
    if (!type.namespaced) delete meta.namespace
    else meta.namespace ||= 'default'
    if ((meta.name ?? '') === '' && meta.generateName) meta.name = meta.generateName + randomSuffix()
    validateName(type, meta.name)
    if (type.namespaced && this.get(NAMESPACES, undefined, meta.namespace!) === undefined) {
      throw notFound('namespaces', meta.namespace!)
    }
    const key = objectKey(type, meta.namespace, meta.name)
    if (this.#bucket(type).has(key)) throw alreadyExists(qualifiedName(type), meta.name)
    applyCreateDefaults(type, obj, this.#defaults)
    meta.uid = randomUUID()
    meta.creationTimestamp = this.#now()
      .toISOString()
      .replace(/\.\d+Z$/, 'Z')
    meta.generation = 1
    delete meta.deletionTimestamp
    return this.#commit('ADDED', type, obj, undefined)
  }

  /**
   * Replaces an object. A non-empty `metadata.resourceVersion` that is not the current one is a
   * 409 Conflict (optimistic concurrency); an empty one updates unconditionally, as upstream allows.
   */
  update(type: ResourceType, input: KubeObject, options: WriteOptions = {}): KubeObject {
    const namespace = type.namespaced ? input.metadata?.namespace || 'default' : undefined
    const name = input.metadata?.name ?? ''
    const old = this.#bucket(type).get(objectKey(type, namespace, name))
    if (old === undefined) throw notFound(qualifiedName(type), name)
    const given = input.metadata.resourceVersion
    if (given !== undefined && given !== '' && given !== old.metadata.resourceVersion) {
      throw conflict(qualifiedName(type), name)
    }
    if (input.metadata.uid !== undefined && input.metadata.uid !== '' && input.metadata.uid !== old.metadata.uid) {
      throw conflict(qualifiedName(type), name)
    }
    let obj: KubeObject
    if (options.subresource === 'status') {
      obj = structuredClone(old)
      obj['status'] = structuredClone(input['status'])
    } else {
      obj = structuredClone(input)
      if (type.subresources.includes('status')) obj['status'] = structuredClone(old['status'])
      applyUpdateDefaults(type, obj, old, this.#defaults)
    }
    obj.apiVersion = apiVersionOf(type)
    obj.kind = type.kind
    // Identity and bookkeeping fields belong to the server, whatever the client sent.
    for (const field of ['uid', 'creationTimestamp', 'generation', 'resourceVersion', 'deletionTimestamp'] as const) {
      if (old.metadata[field] === undefined) delete obj.metadata[field]
      else (obj.metadata as Record<string, unknown>)[field] = old.metadata[field]
    }
    obj.metadata.name = name
    if (namespace !== undefined) obj.metadata.namespace = namespace
    if (canonicalJson(obj) === canonicalJson(old)) return structuredClone(old)
    if (canonicalJson(specOf(obj)) !== canonicalJson(specOf(old)))
      obj.metadata.generation = (old.metadata.generation ?? 0) + 1
    return this.#commit('MODIFIED', type, obj, old)
  }

  delete(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const key = objectKey(type, namespace, name)
    const old = this.#bucket(type).get(key)
    if (old === undefined) throw notFound(qualifiedName(type), name)
    if (type === NAMESPACES) {
      // Upstream drains a namespace through a finalizer; here its contents go at once, each with its own event.
      for (const t of RESOURCE_TYPES.filter((r) => r.namespaced)) {
        for (const obj of this.list(t, name)) this.delete(t, name, obj.metadata.name)
      }
    }
    const gone = structuredClone(old)
    return this.#commit('DELETED', type, gone, old)
  }

  /**
   * The changes of one type after `rv`, oldest first. Throws 410 Expired when the window no longer
   * reaches back to `rv`, which is what makes informers relist.
   */
  eventsSince(type: ResourceType, rv: number): StoreEvent[] {
    if (rv < this.#floor) throw expired(`too old resource version: ${rv} (${this.#floor})`)
    return this.#history
      .filter((e) => e.rv > rv && e.resourceType === type)
      .map((e) => ({ ...e, object: structuredClone(e.object), previous: structuredClone(e.previous) }))
  }

  /** Forgets the whole watch window (tests use it to force 410 on the next resume). */
  compact(): void {
    this.#history.length = 0
    this.#floor = this.#rv
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  snapshot(): StoreState {
    const objects: KubeObject[] = []
    for (const type of RESOURCE_TYPES) objects.push(...this.list(type))
    return { apiVersion: 'podlink.io/apiserver-state/v1', resourceVersion: this.#rv, objects }
  }

  /** Replaces the contents with a saved state. Watches may resume from its resourceVersion on. */
  load(state: StoreState): void {
    for (const bucket of this.#objects.values()) bucket.clear()
    for (const obj of state.objects) {
      const type = findTypeByKind(obj.apiVersion, obj.kind)
      if (type === undefined) throw new Error(`Cannot load state as it holds an unknown ${obj.apiVersion} ${obj.kind}`)
      this.#bucket(type).set(objectKey(type, obj.metadata.namespace, obj.metadata.name), structuredClone(obj))
    }
    this.#rv = state.resourceVersion
    this.#history.length = 0
    this.#floor = this.#rv
  }

  #commit(type: WatchEventType, resourceType: ResourceType, obj: KubeObject, previous: KubeObject | undefined) {
    this.#rv++
    obj.metadata.resourceVersion = String(this.#rv)
    const key = objectKey(resourceType, obj.metadata.namespace, obj.metadata.name)
    if (type === 'DELETED') this.#bucket(resourceType).delete(key)
    else this.#bucket(resourceType).set(key, obj)
    const event: StoreEvent = { type, resourceType, object: obj, previous, rv: this.#rv }
    this.#history.push(event)
    while (this.#history.length > this.#window) this.#floor = this.#history.shift()!.rv
    for (const listener of this.#listeners) listener(event)
    return structuredClone(obj)
  }

  #bucket(type: ResourceType): Map<string, KubeObject> {
    return this.#objects.get(typeKey(type))!
  }

  #usedClusterIps(): Set<string> {
    const used = new Set<string>()
    for (const svc of this.#bucket(SERVICES).values()) {
      const ip = (svc['spec'] as { clusterIP?: unknown } | undefined)?.clusterIP
      if (typeof ip === 'string') used.add(ip)
    }
    return used
  }
}

function objectKey(type: ResourceType, namespace: string | undefined, name: string): string {
  return type.namespaced ? `${namespace ?? 'default'}/${name}` : name
}

/** Everything but metadata and status: a change here bumps `metadata.generation`. */
function specOf(obj: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, ...rest } = obj
  return rest
}

function validateName(type: ResourceType, name: string | undefined): asserts name is string {
  if (name === undefined || name === '') {
    throw invalid(qualifiedName(type), '', 'metadata.name: Required value: name or generateName is required')
  }
  if (name.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) {
    throw invalid(
      qualifiedName(type),
      name,
      `metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
    )
  }
}

function randomSuffix(): string {
  let out = ''
  for (let i = 0; i < 5; i++) out += GENERATE_NAME_ALPHABET[Math.floor(Math.random() * GENERATE_NAME_ALPHABET.length)]
  return out
}
