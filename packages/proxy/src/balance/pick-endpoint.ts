import type { EndpointClass, ServiceEndpoint, ServiceEntry } from '@podlink/core'

/** An endpoint's identity within one ServiceEntry: `ip:port` (IPv6 bracketed). */
export function endpointId(endpoint: { readonly ip: string; readonly port: number }): string {
  return endpoint.ip.includes(':') ? `[${endpoint.ip}]:${endpoint.port}` : `${endpoint.ip}:${endpoint.port}`
}

export interface PickInput {
  readonly clientIP: string
  /** This node's name: its endpoints count as local whatever their class says. */
  readonly self: string
  /** This node's zone (topology.kubernetes.io/zone), null when unknown: hints are then ignored. */
  readonly zone: string | null
  readonly now: number
  /** Endpoints that failed for this flow: never picked again for it. */
  readonly failed: ReadonlySet<string>
  /** Endpoints that failed recently for other flows: picked only when nothing else is left. */
  readonly penalized: ReadonlySet<string>
  /** The entry's round-robin counter. */
  readonly cursor: number
  /** This client's last endpoint for this entry, when sessionAffinity is ClientIP. */
  readonly affinity: { readonly endpoint: string; readonly lastUsed: number } | null
}

export interface EndpointPick {
  readonly endpoint: ServiceEndpoint
  readonly tier: EndpointClass
  readonly by: 'affinity' | 'round-robin'
}

const TIERS: readonly EndpointClass[] = ['local', 'lan', 'mesh']

function tierOf(endpoint: ServiceEndpoint, self: string): EndpointClass {
  return endpoint.node !== null && endpoint.node === self ? 'local' : endpoint.class
}

/**
 * Topology hints as kube-proxy applies them: only when every candidate carries hints (a partly hinted slice is
 * being rewritten, and trusting half of it would overload the hinted few), and only when some hint names our zone.
 */
function byZone(pool: readonly ServiceEndpoint[], zone: string | null): readonly ServiceEndpoint[] {
  if (zone === null || pool.some((e) => e.hintZones === undefined || e.hintZones.length === 0)) return pool
  const hinted = pool.filter((e) => e.hintZones!.includes(zone))
  return hinted.length > 0 ? hinted : pool
}

/**
 * Choose the endpoint of a new flow. The entry holds ready endpoints only (routing drops the others). Order:
 * 1. ClientIP affinity: the client's endpoint while its last use is within the timeout and it has not failed;
 * 2. by default, round-robin by `cursor` over every usable endpoint, as kube-proxy spreads a Service: podlink
 *    changes how a flow travels (a same-LAN endpoint is dialled directly, never tunnelled), not where it lands;
 * 3. when the Service prefers close endpoints (trafficDistribution PreferClose, topology-mode Auto), and for the
 *    retry of a flow whose endpoint failed (the nearest working one answers fastest): the first tier with a usable
 *    endpoint, this node, then this LAN, then other sites; within the tier, the endpoints hinted for this zone
 *    (see byZone), round-robin by `cursor`.
 * Endpoints in `failed` are never chosen; those in `penalized` only when nothing else is left. Null: none left.
 */
export function pickEndpoint(entry: ServiceEntry, input: PickInput): EndpointPick | null {
  const usable = entry.endpoints.filter((e) => !input.failed.has(endpointId(e)))
  const healthy = usable.filter((e) => !input.penalized.has(endpointId(e)))
  const candidates = healthy.length > 0 ? healthy : usable
  if (candidates.length === 0) return null

  const aff = input.affinity
  if (
    entry.sessionAffinity === 'ClientIP' &&
    aff !== null &&
    input.now - aff.lastUsed < entry.affinityTimeoutSeconds * 1000
  ) {
    const sticky = candidates.find((e) => endpointId(e) === aff.endpoint)
    if (sticky !== undefined) return { endpoint: sticky, tier: tierOf(sticky, input.self), by: 'affinity' }
  }

  if (entry.preferClose !== true && input.failed.size === 0) {
    const pool = byZone(candidates, input.zone)
    const endpoint = pool[input.cursor % pool.length]!
    return { endpoint, tier: tierOf(endpoint, input.self), by: 'round-robin' }
  }
  for (const tier of TIERS) {
    const pool = byZone(
      candidates.filter((e) => tierOf(e, input.self) === tier),
      input.zone,
    )
    if (pool.length === 0) continue
    const endpoint = pool[input.cursor % pool.length]!
    return { endpoint, tier, by: 'round-robin' }
  }
  return null
}
