import type { PathKind } from '@podlink/core'
import { edgeLabel, edgeSegments, type MeshGraph } from './mesh-graph.ts'

const LINK_STYLE: Readonly<Record<PathKind, string>> = {
  lan: 'stroke:#777777',
  direct: 'stroke:#1a7f37,stroke-width:2px',
  punched: 'stroke:#0969da,stroke-width:2px,stroke-dasharray:8 4',
  relay: 'stroke:#bf8700,stroke-width:2px,stroke-dasharray:2 4',
  none: 'stroke:#cf222e,stroke-dasharray:8 4',
}

/** Mermaid `graph LR` (GitHub renders it inline): LANs are subgraphs, relays stadium-shaped, links styled by path. */
export function renderMermaid(g: MeshGraph): string {
  const id = new Map(g.nodes.map((n, i) => [n.name, `n${i}`]))
  const text = (s: string): string => s.replace(/"/g, '#quot;')
  const node = (name: string): string => {
    const n = g.nodes.find((x) => x.name === name)!
    return n.relay ? `${id.get(name)}(["${text(name)} (relay)"])` : `${id.get(name)}["${text(name)}"]`
  }
  const out = ['graph LR']
  g.lans.forEach((members, i) => {
    out.push(`  subgraph lan${i}["LAN ${i + 1}"]`)
    for (const m of members) out.push(`    ${node(m)}`)
    out.push('  end')
  })
  for (const n of g.nodes.filter((x) => x.lan === null)) out.push(`  ${node(n.name)}`)
  const styles: string[] = []
  let link = 0
  for (const e of g.edges) {
    edgeSegments(e).forEach(([a, b], i) => {
      const arrow = e.path === 'lan' || e.path === 'direct' ? '---' : '-.-'
      out.push(`  ${id.get(a)} ${arrow}${i === 0 ? `|"${text(edgeLabel(e))}"|` : ''} ${id.get(b)}`)
      styles.push(`  linkStyle ${link++} ${LINK_STYLE[e.path]}`)
    })
  }
  for (const n of g.nodes.filter((x) => x.reporter)) styles.push(`  style ${id.get(n.name)} stroke-width:3px`)
  return [...out, ...styles].join('\n')
}
