import type { RouteEntry, RoutingTable } from '@podlink/core'

export interface RouteChange {
  readonly before: RouteEntry
  readonly after: RouteEntry
}

export interface RoutingDiff {
  readonly added: readonly RouteEntry[]
  readonly removed: readonly RouteEntry[]
  /** Same network, different class, owner or reason. */
  readonly changed: readonly RouteChange[]
}

function sameRoute(a: RouteEntry, b: RouteEntry): boolean {
  return a.class === b.class && a.node === b.node && a.reason === b.reason && a.family === b.family
}

/** What changed in the routes between two tables, keyed by network; each list keeps its table's order. */
export function routingDiff(before: RoutingTable, after: RoutingTable): RoutingDiff {
  const old = new Map<string, RouteEntry>()
  for (const route of before.routes) old.set(route.cidr, route)
  const added: RouteEntry[] = []
  const changed: RouteChange[] = []
  const kept = new Set<string>()
  for (const route of after.routes) {
    const prior = old.get(route.cidr)
    if (prior === undefined) added.push(route)
    else {
      kept.add(route.cidr)
      if (!sameRoute(prior, route)) changed.push({ before: prior, after: route })
    }
  }
  const removed = before.routes.filter((route) => !kept.has(route.cidr))
  return { added, removed, changed }
}

/** True when the diff holds no change. */
export function isEmptyDiff(diff: RoutingDiff): boolean {
  return diff.added.length === 0 && diff.removed.length === 0 && diff.changed.length === 0
}
