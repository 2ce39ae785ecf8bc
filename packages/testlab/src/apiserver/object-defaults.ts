import { invalid } from './api-error.ts'
import { isPlainObject } from './canonical-json.ts'
import type { ClusterIpAllocator } from './cluster-ip-allocator.ts'
import { type KubeObject, NAMESPACES, PODS, type ResourceType, SERVICES } from './resource-types.ts'

export interface DefaultsContext {
  allocator: ClusterIpAllocator
  /** ClusterIPs already held by other Services. */
  usedClusterIps: () => ReadonlySet<string>
}

/**
 * The server-side defaults the real API server fills in on create, for the fields podlink and
 * kubectl read: a Service's type, ClusterIP(s), port protocol and targetPort; a Namespace's phase
 * and name label; a Pod's phase. Mutates `obj`.
 */
export function applyCreateDefaults(type: ResourceType, obj: KubeObject, ctx: DefaultsContext): void {
  if (type === NAMESPACES) {
    obj.metadata.labels = { ...obj.metadata.labels, 'kubernetes.io/metadata.name': obj.metadata.name }
    obj['spec'] = { finalizers: ['kubernetes'], ...record(obj['spec']) }
    obj['status'] = { phase: 'Active', ...record(obj['status']) }
  } else if (type === PODS) {
    const status = record(obj['status'])
    obj['status'] = { phase: 'Pending', ...status }
  } else if (type === SERVICES) {
    defaultServiceSpec(obj, undefined, ctx)
  }
}

/** Update-time defaults: a Service keeps its ClusterIP (immutable, as upstream) and port defaults. */
export function applyUpdateDefaults(type: ResourceType, obj: KubeObject, old: KubeObject, ctx: DefaultsContext): void {
  if (type === SERVICES) defaultServiceSpec(obj, old, ctx)
  if (type === NAMESPACES) {
    obj.metadata.labels = { ...obj.metadata.labels, 'kubernetes.io/metadata.name': obj.metadata.name }
  }
}

function defaultServiceSpec(obj: KubeObject, old: KubeObject | undefined, ctx: DefaultsContext): void {
  const spec = record(obj['spec'])
  obj['spec'] = spec
  spec['type'] ??= 'ClusterIP'
  spec['sessionAffinity'] ??= 'None'
  spec['internalTrafficPolicy'] ??= 'Cluster'
  const ports = Array.isArray(spec['ports']) ? spec['ports'] : []
  for (const port of ports) {
    if (!isPlainObject(port)) continue
    port['protocol'] ??= 'TCP'
    port['targetPort'] ??= port['port']
  }
  if (spec['type'] === 'ExternalName') return
  const oldIp = old === undefined ? undefined : record(old['spec'])['clusterIP']
  let ip = spec['clusterIP']
  if (typeof oldIp === 'string' && oldIp !== '') {
    if (ip !== undefined && ip !== '' && ip !== oldIp) {
      throw invalid(
        'services',
        obj.metadata.name,
        `spec.clusterIPs[0]: Invalid value: "${String(ip)}": may not change once set`,
      )
    }
    ip = oldIp
  } else if (ip === undefined || ip === '') {
    ip = ctx.allocator.allocate(ctx.usedClusterIps(), obj.metadata.name)
  } else if (ip !== 'None' && (typeof ip !== 'string' || !ctx.allocator.contains(ip))) {
    throw invalid(
      'services',
      obj.metadata.name,
      `spec.clusterIPs: Invalid value: ["${String(ip)}"]: failed to allocate IP ${String(ip)}: the provided IP is not in the valid range`,
    )
  } else if (ip !== 'None' && ctx.usedClusterIps().has(ip)) {
    throw invalid(
      'services',
      obj.metadata.name,
      `spec.clusterIPs: Invalid value: ["${ip}"]: failed to allocate IP ${ip}: provided IP is already allocated`,
    )
  }
  spec['clusterIP'] = ip
  spec['clusterIPs'] = [ip]
  if (ip !== 'None') {
    spec['ipFamilies'] ??= ['IPv4']
    spec['ipFamilyPolicy'] ??= 'SingleStack'
  }
  obj['status'] ??= { loadBalancer: {} }
}

function record(value: unknown): Record<string, unknown> {
  return isPlainObject(value) ? value : {}
}
