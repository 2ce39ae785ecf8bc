import type { AgentStatus, ServiceEndpoint } from '@podlink/core'
import type { Paint } from './colour.ts'
import { renderTable } from './render-table.ts'

function endpoint(e: ServiceEndpoint): string {
  return `${e.ip}:${e.port}(${e.class}${e.node ? ` ${e.node}` : ''})`
}

/** `podlink services`: one row per ClusterIP:port/protocol; CAPTURED says whether the dataplane takes it off kube-proxy. */
export function renderServices(s: AgentStatus, paint: Paint): string {
  if (s.services.length === 0) return 'no services'
  const rows = [...s.services]
    .sort((a, b) => a.service.localeCompare(b.service) || a.port - b.port)
    .map((e) => [
      e.service,
      e.portName || '-',
      `${e.clusterIP}:${e.port}/${e.protocol}`,
      { text: e.offLan ? 'yes' : 'no', style: e.offLan ? ('cyan' as const) : null },
      e.sessionAffinity === 'ClientIP' ? `ClientIP ${e.affinityTimeoutSeconds}s` : 'None',
      {
        text: e.endpoints.length === 0 ? 'none' : e.endpoints.map(endpoint).join(' '),
        style: e.endpoints.length === 0 ? ('red' as const) : null,
      },
    ])
  return renderTable(
    [
      { header: 'SERVICE' },
      { header: 'PORT' },
      { header: 'CLUSTER-IP' },
      { header: 'CAPTURED' },
      { header: 'AFFINITY' },
      { header: 'ENDPOINTS' },
    ],
    rows,
    paint,
  )
}
