/**
 * A self-contained SVG of the mesh when Graphviz is not installed: LANs (and lone nodes) in columns, nodes
 * stacked inside, edges as gentle curves styled like the DOT output. Deterministic: same graph, same bytes.
 */
import type { PathKind } from '@podlink/core'
import { edgeLabel, edgeSegments, type MeshGraph } from './mesh-graph.ts'

const COLUMN = 260
const NODE_W = 150
const NODE_H = 36
const ROW = 80
const PAD = 24
const TOP = 56
const LEGEND = 60

export const SVG_EDGE_STYLE: Readonly<
  Record<PathKind, { readonly stroke: string; readonly dash: string | null; readonly width: number }>
> = {
  lan: { stroke: '#777777', dash: null, width: 1.5 },
  direct: { stroke: '#1a7f37', dash: null, width: 2.5 },
  punched: { stroke: '#0969da', dash: '8 5', width: 2.5 },
  relay: { stroke: '#bf8700', dash: '2 5', width: 2.5 },
  none: { stroke: '#cf222e', dash: '8 5', width: 1.5 },
}

export function escapeXml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
}

export function renderSvg(g: MeshGraph): string {
  const groups: { readonly lan: number | null; readonly members: readonly string[] }[] = [
    ...g.lans.map((members, i) => ({ lan: i, members })),
    ...g.nodes.filter((n) => n.lan === null).map((n) => ({ lan: null, members: [n.name] })),
  ]
  const tallest = Math.max(1, ...groups.map((x) => x.members.length))
  const width = Math.max(480, groups.length * COLUMN + PAD)
  const height = TOP + tallest * ROW + PAD * 2 + LEGEND
  const pos = new Map<string, { x: number; y: number }>()
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="28" text-anchor="middle" font-size="16">${escapeXml(`podlink mesh as seen by ${g.reporters.join(', ')}`)}</text>`,
  ]
  groups.forEach((grp, col) => {
    const x = PAD + col * COLUMN + (COLUMN - PAD) / 2
    const y0 = TOP + PAD + ((tallest - grp.members.length) * ROW) / 2
    grp.members.forEach((m, row) => pos.set(m, { x, y: y0 + row * ROW + ROW / 2 }))
    if (grp.lan !== null) {
      const top = y0 + 4
      out.push(
        `<rect x="${x - (COLUMN - PAD) / 2}" y="${top - 18}" width="${COLUMN - PAD}" height="${grp.members.length * ROW + 14}" rx="10" fill="#f6f8fa" stroke="#d0d7de"/>`,
        `<text x="${x - (COLUMN - PAD) / 2 + 10}" y="${top - 4}" font-size="12" fill="#57606a">LAN ${grp.lan + 1}</text>`,
      )
    }
  })
  for (const e of g.edges) {
    const st = SVG_EDGE_STYLE[e.path]
    edgeSegments(e).forEach(([a, b], i) => {
      const p = pos.get(a)!
      const r = pos.get(b)!
      // Same-column pairs bulge sideways so they do not run through the nodes between them.
      const bend = p.x === r.x ? NODE_W * 0.75 : 18
      const mx = (p.x + r.x) / 2 + (p.x === r.x ? bend : 0)
      const my = (p.y + r.y) / 2 - (p.x === r.x ? 0 : bend)
      const dash = st.dash === null ? '' : ` stroke-dasharray="${st.dash}"`
      out.push(
        `<path d="M ${p.x} ${p.y} Q ${mx} ${my} ${r.x} ${r.y}" fill="none" stroke="${st.stroke}" stroke-width="${st.width}"${dash}/>`,
      )
      if (i === 0) {
        const lx = (p.x + 2 * mx + r.x) / 4
        const ly = (p.y + 2 * my + r.y) / 4 - 4
        out.push(
          `<text x="${lx}" y="${ly}" text-anchor="middle" font-size="11" fill="${st.stroke}">${escapeXml(edgeLabel(e))}</text>`,
        )
      }
    })
  }
  for (const n of g.nodes) {
    const { x, y } = pos.get(n.name)!
    const fill = n.relay ? '#fff8c5' : '#ffffff'
    const stroke = n.reporter ? 3 : 1.5
    out.push(
      `<rect x="${x - NODE_W / 2}" y="${y - NODE_H / 2}" width="${NODE_W}" height="${NODE_H}" rx="8" fill="${fill}" stroke="#24292f" stroke-width="${stroke}"/>`,
    )
    if (n.relay)
      out.push(
        `<rect x="${x - NODE_W / 2 + 4}" y="${y - NODE_H / 2 + 4}" width="${NODE_W - 8}" height="${NODE_H - 8}" rx="6" fill="none" stroke="#24292f"/>`,
      )
    out.push(
      `<text x="${x}" y="${y + 5}" text-anchor="middle" font-size="13">${escapeXml(n.relay ? `${n.name} (relay)` : n.name)}</text>`,
    )
  }
  const ly = height - LEGEND / 2
  ;(['lan', 'direct', 'punched', 'relay', 'none'] as const).forEach((k, i) => {
    const st = SVG_EDGE_STYLE[k]
    const x = PAD + i * 90
    const dash = st.dash === null ? '' : ` stroke-dasharray="${st.dash}"`
    out.push(
      `<line x1="${x}" y1="${ly}" x2="${x + 36}" y2="${ly}" stroke="${st.stroke}" stroke-width="${st.width}"${dash}/>`,
      `<text x="${x + 42}" y="${ly + 4}" font-size="11">${k}</text>`,
    )
  })
  out.push('</svg>')
  return out.join('\n')
}
