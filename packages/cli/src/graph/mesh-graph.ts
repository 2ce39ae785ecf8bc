/**
 * The mesh as a graph, combined from one or more agents' statuses (each agent only knows its own peers).
 * How views combine:
 * - nodes: every status's own node, every peer it lists, every relay it names;
 * - LANs: "shares a LAN" is taken as symmetric and transitive: any peer reported `lan` joins the reporter's
 *   LAN (union-find), so A-B reported by A and B-C reported by C give one LAN {A,B,C};
 * - edges: one per unordered node pair; each reporter's path is kept in `reports`, the edge shows the best
 *   reported path (a libp2p connection is shared by both ends), and `disagree` marks pairs whose ends differ;
 * - relays: a node is a relay when a status lists a reservation on it or a peer is relayed through it.
 * Nothing is measured here: labels carry the reporters' own RTTs.
 */
import type { AgentStatus, PathKind } from '@podlink/core'

export interface MeshNode {
  readonly name: string
  /** One of the statuses the graph was built from is this node's own. */
  readonly reporter: boolean
  readonly relay: boolean
  /** Index into `lans`, or null when no LAN peer of this node is known. */
  readonly lan: number | null
}

export interface EdgeReport {
  readonly from: string
  readonly path: PathKind
  readonly relay: string | null
  readonly rttMs: number | null
}

export interface MeshEdge {
  /** `a < b` by name. */
  readonly a: string
  readonly b: string
  readonly path: PathKind
  readonly relay: string | null
  readonly rttMs: number | null
  readonly reports: readonly EdgeReport[]
  readonly disagree: boolean
}

export interface MeshGraph {
  readonly reporters: readonly string[]
  readonly nodes: readonly MeshNode[]
  /** Each LAN's members, sorted; LANs sorted by first member. */
  readonly lans: readonly (readonly string[])[]
  readonly edges: readonly MeshEdge[]
}

const QUALITY: Readonly<Record<PathKind, number>> = { lan: 0, direct: 1, punched: 2, relay: 3, none: 4 }

export function buildMeshGraph(statuses: readonly AgentStatus[]): MeshGraph {
  const names = new Set<string>()
  const relays = new Set<string>()
  const parent = new Map<string, string>()
  const find = (n: string): string => {
    let r = n
    while (parent.get(r) !== undefined && parent.get(r) !== r) r = parent.get(r)!
    parent.set(n, r)
    return r
  }
  const union = (a: string, b: string): void => {
    const ra = find(a)
    const rb = find(b)
    if (ra === rb) return
    // The smaller name becomes the root, so LAN membership does not depend on report order.
    const [lo, hi] = ra < rb ? [ra, rb] : [rb, ra]
    parent.set(hi, lo)
  }
  const reports = new Map<string, { a: string; b: string; list: EdgeReport[] }>()
  for (const s of statuses) {
    names.add(s.node)
    for (const r of s.relays) {
      names.add(r.node)
      if (r.reserved) relays.add(r.node)
    }
    for (const p of s.peers) {
      if (p.node === s.node) continue
      names.add(p.node)
      if (p.relay !== null) {
        names.add(p.relay)
        relays.add(p.relay)
      }
      if (p.lan || p.path === 'lan') union(s.node, p.node)
      const [a, b] = s.node < p.node ? [s.node, p.node] : [p.node, s.node]
      const key = `${a}\u0000${b}`
      const entry = reports.get(key) ?? { a, b, list: [] }
      entry.list.push({ from: s.node, path: p.path, relay: p.relay, rttMs: p.rttMs })
      reports.set(key, entry)
    }
  }
  const groups = new Map<string, string[]>()
  for (const n of names) {
    const root = find(n)
    groups.set(root, [...(groups.get(root) ?? []), n])
  }
  const lans = [...groups.values()]
    .filter((g) => g.length > 1)
    .map((g) => g.sort())
    .sort((x, y) => x[0]!.localeCompare(y[0]!))
  const lanOf = new Map<string, number>()
  lans.forEach((members, i) => {
    for (const m of members) lanOf.set(m, i)
  })
  const reporters = statuses.map((s) => s.node)
  const nodes = [...names].sort().map((name) => ({
    name,
    reporter: reporters.includes(name),
    relay: relays.has(name),
    lan: lanOf.get(name) ?? null,
  }))
  const edges = [...reports.values()]
    .map(({ a, b, list }) => {
      const best = [...list].sort((x, y) => QUALITY[x.path] - QUALITY[y.path] || x.from.localeCompare(y.from))[0]!
      return {
        a,
        b,
        path: best.path,
        relay: best.relay,
        rttMs: best.rttMs,
        reports: list,
        disagree: new Set(list.map((r) => `${r.path}/${r.relay ?? ''}`)).size > 1,
      }
    })
    .sort((x, y) => x.a.localeCompare(y.a) || x.b.localeCompare(y.b))
  return { reporters, nodes, lans, edges }
}

/** The label an edge carries in every format: path, relay, RTT, and both ends' views when they differ. */
export function edgeLabel(e: MeshEdge): string {
  const base = e.path === 'relay' ? `relay via ${e.relay ?? '?'}` : e.path
  const rtt = e.rttMs === null ? '' : ` ${e.rttMs < 10 ? e.rttMs.toFixed(1) : Math.round(e.rttMs)}ms`
  const views = e.disagree ? ` (${e.reports.map((r) => `${r.from}: ${r.path}`).join(', ')})` : ''
  return `${base}${rtt}${views}`
}

/** The straight segments an edge is drawn as: relayed pairs go through their relay, when it is known. */
export function edgeSegments(e: MeshEdge): readonly (readonly [string, string])[] {
  if (e.path === 'relay' && e.relay !== null && e.relay !== e.a && e.relay !== e.b)
    return [
      [e.a, e.relay],
      [e.relay, e.b],
    ]
  return [[e.a, e.b]]
}
