import { CidrTable, type IpAddress, parseCidr, type RouteEntry, type RoutingTable } from '@podlink/core'

// A table's index is built once and kept as long as the table lives: the agent asks about many IPs per table.
const indexes = new WeakMap<RoutingTable, CidrTable<RouteEntry>>()

/** The longest-prefix-match index of a table's routes (built on first use, then cached by identity). */
export function routeIndex(table: RoutingTable): CidrTable<RouteEntry> {
  let index = indexes.get(table)
  if (index === undefined) {
    index = new CidrTable<RouteEntry>()
    for (const route of table.routes) index.set(parseCidr(route.cidr), route)
    indexes.set(table, index)
  }
  return index
}

/** Registers an index already built alongside `table`, so describeRoute does not rebuild it. */
export function rememberRouteIndex(table: RoutingTable, index: CidrTable<RouteEntry>): void {
  indexes.set(table, index)
}

/**
 * The route that covers `ip` (the most specific pod network holding it), or null when no route does or
 * `ip` is not an address. A `conflict` route is returned as such: the caller must not carry its traffic.
 */
export function describeRoute(table: RoutingTable, ip: IpAddress | string): RouteEntry | null {
  return routeIndex(table).lookup(ip) ?? null
}
