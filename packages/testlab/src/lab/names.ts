/**
 * Every name the lab gives a kernel object derives from the topology name, so labs with
 * different names run side by side and `down` finds everything from the name alone.
 * Topology names have no dots, so `<lab>.` is an unambiguous namespace prefix.
 */
import type { Topology } from '../topology/topology.ts'

export const LAB_ROOT = process.env.PODLINK_LAB_ROOT ?? '/run/podlink-lab'

export const nsPrefix = (lab: string): string => `${lab}.`
export const hostNs = (lab: string, host: string): string => `${lab}.${host}`
export const inetNs = (lab: string): string => `${lab}.inet`
export const switchNs = (lab: string, lan: string): string => `${lab}.sw-${lan}`
export const routerHost = (lan: string): string => `gw-${lan}`
export const API_HOST = 'apiserver'

export const stateDir = (lab: string): string => `${LAB_ROOT}/${lab}`

export type HostKind = 'node' | 'pod' | 'router' | 'apiserver'

export interface HostRef {
  readonly name: string
  readonly kind: HostKind
  readonly ns: string
}

/** Every host `pnpm lab exec NAME` can address, by its own name. */
export function labHosts(t: Topology): HostRef[] {
  return [
    ...t.nodes.map((n) => ({ name: n.name, kind: 'node' as const, ns: hostNs(t.name, n.name) })),
    ...t.pods.map((p) => ({ name: p.name, kind: 'pod' as const, ns: hostNs(t.name, p.name) })),
    ...t.lans.map((l) => ({
      name: routerHost(l.name),
      kind: 'router' as const,
      ns: hostNs(t.name, routerHost(l.name)),
    })),
    { name: API_HOST, kind: 'apiserver' as const, ns: hostNs(t.name, API_HOST) },
  ]
}

/** Every namespace the lab creates, switches and the internet included. */
export function labNamespaces(t: Topology): string[] {
  return [inetNs(t.name), ...t.lans.map((l) => switchNs(t.name, l.name)), ...labHosts(t).map((h) => h.ns)]
}

/** A stable, locally administered MAC for a node's flannel.1 VTEP. */
export function vtepMac(index: number): string {
  const hex = (n: number): string => n.toString(16).padStart(2, '0')
  return `0e:70:6c:00:${hex((index >> 8) & 0xff)}:${hex(index & 0xff)}`
}
