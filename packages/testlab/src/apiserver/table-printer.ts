import { isPlainObject } from './canonical-json.ts'
import type { KubeObject, ResourceType } from './resource-types.ts'

/**
 * Server-side printing, the meta.k8s.io/v1 Table that kubectl asks for
 * (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`). Columns follow the real printers of
 * kube-apiserver for the served kinds; columns of priority 1 show only with `-o wide`.
 */
interface Column {
  name: string
  type: 'string' | 'integer'
  format?: 'name'
  priority: 0 | 1
  description: string
  cell: (obj: Obj, now: Date) => string | number
}

type Obj = KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> }

export type IncludeObject = 'None' | 'Object' | 'Metadata'

const NONE = '<none>'

const nameColumn: Column = {
  name: 'Name',
  type: 'string',
  format: 'name',
  priority: 0,
  description: 'Name must be unique within a namespace.',
  cell: (o) => o.metadata.name,
}
const ageColumn: Column = {
  name: 'Age',
  type: 'string',
  priority: 0,
  description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
  cell: (o, now) => humanAge(o.metadata.creationTimestamp, now),
}

const col = (name: string, priority: 0 | 1, cell: Column['cell'], type: Column['type'] = 'string'): Column => ({
  name,
  type,
  priority,
  description: name,
  cell,
})

const COLUMNS: Record<string, Column[]> = {
  Node: [
    nameColumn,
    col('Status', 0, nodeStatus),
    col('Roles', 0, nodeRoles),
    ageColumn,
    col('Version', 0, (o) => str(path(o, 'status', 'nodeInfo', 'kubeletVersion'), '')),
    col('Internal-IP', 1, (o) => nodeAddress(o, 'InternalIP')),
    col('External-IP', 1, (o) => nodeAddress(o, 'ExternalIP')),
    col('OS-Image', 1, (o) => str(path(o, 'status', 'nodeInfo', 'osImage'), '<unknown>')),
    col('Kernel-Version', 1, (o) => str(path(o, 'status', 'nodeInfo', 'kernelVersion'), '<unknown>')),
    col('Container-Runtime', 1, (o) => str(path(o, 'status', 'nodeInfo', 'containerRuntimeVersion'), '<unknown>')),
  ],
  Pod: [
    nameColumn,
    col('Ready', 0, podReady),
    col('Status', 0, (o) => str(path(o, 'status', 'reason'), str(path(o, 'status', 'phase'), 'Unknown'))),
    col('Restarts', 0, podRestarts, 'integer'),
    ageColumn,
    col('IP', 1, (o) => str(path(o, 'status', 'podIP'), NONE)),
    col('Node', 1, (o) => str(path(o, 'spec', 'nodeName'), NONE)),
    col('Nominated Node', 1, (o) => str(path(o, 'status', 'nominatedNodeName'), NONE)),
    col('Readiness Gates', 1, () => NONE),
  ],
  Service: [
    nameColumn,
    col('Type', 0, (o) => str(path(o, 'spec', 'type'), 'ClusterIP')),
    col('Cluster-IP', 0, (o) => str(path(o, 'spec', 'clusterIP'), NONE)),
    col('External-IP', 0, (o) => list(path(o, 'spec', 'externalIPs')).join(',') || NONE),
    col('Port(s)', 0, servicePorts),
    ageColumn,
    col('Selector', 1, (o) => labelString(path(o, 'spec', 'selector')) || NONE),
  ],
  Namespace: [nameColumn, col('Status', 0, (o) => str(path(o, 'status', 'phase'), 'Active')), ageColumn],
  EndpointSlice: [
    nameColumn,
    col('AddressType', 0, (o) => str(path(o, 'addressType'), '')),
    col(
      'Ports',
      0,
      (o) =>
        list(path(o, 'ports'))
          .map((p) => String(path(p, 'port') ?? ''))
          .join(',') || '<unset>',
    ),
    col('Endpoints', 0, sliceEndpoints),
    ageColumn,
  ],
  Lease: [nameColumn, col('Holder', 0, (o) => str(path(o, 'spec', 'holderIdentity'), '')), ageColumn],
  Event: [
    col('Last Seen', 0, (o, now) => humanAge(str(path(o, 'lastTimestamp'), o.metadata.creationTimestamp ?? ''), now)),
    col('Type', 0, (o) => str(path(o, 'type'), '')),
    col('Reason', 0, (o) => str(path(o, 'reason'), '')),
    col(
      'Object',
      0,
      (o) =>
        `${str(path(o, 'involvedObject', 'kind'), '').toLowerCase()}/${str(path(o, 'involvedObject', 'name'), '')}`,
    ),
    col('Message', 0, (o) => str(path(o, 'message'), '')),
  ],
}

export function toTable(
  type: ResourceType,
  objects: KubeObject[],
  listMetadata: Record<string, unknown>,
  includeObject: IncludeObject,
  now: Date,
): Record<string, unknown> {
  const columns = COLUMNS[type.kind] ?? [nameColumn, ageColumn]
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMetadata,
    columnDefinitions: columns.map(({ cell: _cell, ...def }) => ({ format: '', ...def })),
    rows: objects.map((obj) => {
      const row: Record<string, unknown> = { cells: columns.map((c) => c.cell(obj as Obj, now)) }
      if (includeObject === 'Object') row['object'] = obj
      else if (includeObject === 'Metadata') {
        row['object'] = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata }
      }
      return row
    }),
  }
}

/** kubectl's duration.HumanDuration: `45s`, `3m20s`, `5h10m`, `3d4h`, `20d`, `2y30d`. */
export function humanAge(timestamp: string | undefined, now: Date): string {
  if (timestamp === undefined || timestamp === '') return '<unknown>'
  const seconds = Math.floor((now.getTime() - Date.parse(timestamp)) / 1000)
  if (seconds < -1) return '<invalid>'
  if (seconds < 0) return '0s'
  if (seconds < 120) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`
  if (minutes < 180) return `${minutes}m`
  const hours = Math.floor(minutes / 60)
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`
  if (hours < 48) return `${hours}h`
  if (hours < 24 * 8)
    return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`
  const days = Math.floor(hours / 24)
  return `${Math.floor(days / 365)}y${days % 365 === 0 ? '' : `${days % 365}d`}`
}

function nodeStatus(o: Obj): string {
  const ready = list(path(o, 'status', 'conditions')).find((c) => path(c, 'type') === 'Ready')
  const state =
    ready === undefined
      ? 'Unknown'
      : path(ready, 'status') === 'True'
        ? 'Ready'
        : path(ready, 'status') === 'False'
          ? 'NotReady'
          : 'Unknown'
  return path(o, 'spec', 'unschedulable') === true ? `${state},SchedulingDisabled` : state
}

function nodeRoles(o: Obj): string {
  const roles = new Set<string>()
  for (const [key, value] of Object.entries(o.metadata.labels ?? {})) {
    if (key.startsWith('node-role.kubernetes.io/') && key.length > 24) roles.add(key.slice(24))
    if (key === 'kubernetes.io/role' && value !== '') roles.add(value)
  }
  return [...roles].sort().join(',') || NONE
}

function nodeAddress(o: Obj, kind: string): string {
  const found = list(path(o, 'status', 'addresses')).find((a) => path(a, 'type') === kind)
  return str(path(found, 'address'), NONE)
}

function podReady(o: Obj): string {
  const total = list(path(o, 'spec', 'containers')).length
  const ready = list(path(o, 'status', 'containerStatuses')).filter((s) => path(s, 'ready') === true).length
  return `${ready}/${total}`
}

function podRestarts(o: Obj): number {
  return list(path(o, 'status', 'containerStatuses')).reduce<number>(
    (sum, s) => sum + Number(path(s, 'restartCount') ?? 0),
    0,
  )
}

function servicePorts(o: Obj): string {
  const ports = list(path(o, 'spec', 'ports')).map((p) => {
    const nodePort = path(p, 'nodePort')
    return `${String(path(p, 'port'))}${nodePort === undefined ? '' : `:${String(nodePort)}`}/${str(path(p, 'protocol'), 'TCP')}`
  })
  return ports.join(',') || NONE
}

function sliceEndpoints(o: Obj): string {
  const addresses = list(path(o, 'endpoints')).flatMap((e) => list(path(e, 'addresses')).map(String))
  if (addresses.length === 0) return '<unset>'
  const shown = addresses.slice(0, 3).join(',')
  return addresses.length > 3 ? `${shown} + ${addresses.length - 3} more...` : shown
}

function labelString(value: unknown): string {
  if (!isPlainObject(value)) return ''
  return Object.entries(value)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',')
}

function path(value: unknown, ...keys: string[]): unknown {
  let cur = value
  for (const key of keys) cur = isPlainObject(cur) ? cur[key] : undefined
  return cur
}

function str(value: unknown, fallback: string): string {
  return typeof value === 'string' && value !== '' ? value : fallback
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : []
}
