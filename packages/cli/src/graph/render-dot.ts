import type { PathKind } from '@podlink/core'
import { edgeLabel, edgeSegments, type MeshGraph } from './mesh-graph.ts'

/** Graphviz attributes per path: punched dashed, relayed dotted, unreachable red. */
export const DOT_EDGE_STYLE: Readonly<Record<PathKind, string>> = {
  lan: 'color="#777777"',
  direct: 'color="#1a7f37", penwidth=2',
  punched: 'color="#0969da", style=dashed, penwidth=2',
  relay: 'color="#bf8700", style=dotted, penwidth=2',
  none: 'color="#cf222e", style=dashed',
}

const q = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`

/** The mesh in Graphviz DOT (undirected): LANs are clusters, relays double-bordered, reporters bold. */
export function renderDot(g: MeshGraph): string {
  const out = [
    'graph podlink {',
    `  graph [label=${q(`podlink mesh as seen by ${g.reporters.join(', ')}`)}, labelloc=t, fontname="Helvetica", rankdir=LR];`,
    '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];',
    '  edge [fontname="Helvetica", fontsize=10];',
  ]
  const node = (name: string): string => {
    const n = g.nodes.find((x) => x.name === name)!
    const attrs = [`label=${q(n.relay ? `${name}\nrelay` : name)}`]
    if (n.relay) attrs.push('peripheries=2', 'fillcolor="#fff8c5"')
    if (n.reporter) attrs.push('penwidth=2')
    return `${q(name)} [${attrs.join(', ')}];`
  }
  g.lans.forEach((members, i) => {
    out.push(
      `  subgraph cluster_lan${i} {`,
      `    label=${q(`LAN ${i + 1}`)}; style="rounded,filled"; fillcolor="#f6f8fa"; color="#d0d7de";`,
    )
    for (const m of members) out.push(`    ${node(m)}`)
    out.push('  }')
  })
  for (const n of g.nodes.filter((x) => x.lan === null)) out.push(`  ${node(n.name)}`)
  for (const e of g.edges) {
    const segs = edgeSegments(e)
    segs.forEach(([a, b], i) => {
      const label = i === 0 ? `, label=${q(edgeLabel(e))}` : ''
      out.push(`  ${q(a)} -- ${q(b)} [${DOT_EDGE_STYLE[e.path]}${label}];`)
    })
  }
  out.push('}')
  return out.join('\n')
}
