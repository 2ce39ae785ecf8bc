import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { checkWellFormedXml } from '../testing/check-xml.ts'
import { fixtureStatus, fixtureStatusB } from '../testing/fixture-status.ts'
import { dotToSvg, hasGraphviz } from './graphviz.ts'
import { buildMeshGraph, edgeLabel, edgeSegments } from './mesh-graph.ts'
import { renderDot } from './render-dot.ts'
import { renderMermaid } from './render-mermaid.ts'
import { renderSvg } from './render-svg.ts'

const NODES = ['edge-a1', 'edge-a2', 'edge-b1', 'edge-b2', 'edge-c1', 'edge-c2']
const one = buildMeshGraph([fixtureStatus])
const both = buildMeshGraph([fixtureStatus, fixtureStatusB])
const tmp = mkdtempSync(join(tmpdir(), 'podlink-graph-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

describe('buildMeshGraph', () => {
  it("one node's view: its LAN, every peer, the relay it uses", () => {
    expect(one.nodes.map((n) => n.name)).toEqual(NODES)
    expect(one.lans).toEqual([['edge-a1', 'edge-a2']])
    expect(one.nodes.filter((n) => n.relay).map((n) => n.name)).toEqual(['edge-b1'])
    expect(one.edges.map((e) => `${e.a}-${e.b}:${e.path}`)).toEqual([
      'edge-a1-edge-a2:lan',
      'edge-a1-edge-b1:direct',
      'edge-a1-edge-b2:punched',
      'edge-a1-edge-c1:relay',
      'edge-a1-edge-c2:none',
    ])
  })

  it("combining views adds the other site's LAN and its edges, and marks where the ends disagree", () => {
    expect(both.reporters).toEqual(['edge-a1', 'edge-b1'])
    expect(both.lans).toEqual([
      ['edge-a1', 'edge-a2'],
      ['edge-b1', 'edge-b2'],
    ])
    const ab = both.edges.find((e) => e.a === 'edge-a1' && e.b === 'edge-b1')!
    expect(ab.reports.map((r) => r.from)).toEqual(['edge-a1', 'edge-b1'])
    expect(ab.disagree).toBe(false)
    expect(both.edges.find((e) => e.a === 'edge-b1' && e.b === 'edge-c1')?.path).toBe('direct')
    const swapped = buildMeshGraph([fixtureStatusB, fixtureStatus])
    expect(swapped.lans).toEqual(both.lans)
    expect(swapped.edges.map((e) => [e.a, e.b, e.path])).toEqual(both.edges.map((e) => [e.a, e.b, e.path]))
  })

  it('keeps the best reported path and both views when the ends disagree', () => {
    const b = {
      ...fixtureStatusB,
      peers: fixtureStatusB.peers.map((p) =>
        p.node === 'edge-a1' ? { ...p, path: 'relay' as const, relay: 'edge-x' } : p,
      ),
    }
    const e = buildMeshGraph([fixtureStatus, b]).edges.find((x) => x.a === 'edge-a1' && x.b === 'edge-b1')!
    expect(e.path).toBe('direct')
    expect(e.disagree).toBe(true)
    expect(edgeLabel(e)).toBe('direct 24ms (edge-a1: direct, edge-b1: relay)')
  })

  it('draws a relayed pair through its relay', () => {
    const e = one.edges.find((x) => x.path === 'relay')!
    expect(edgeSegments(e)).toEqual([
      ['edge-a1', 'edge-b1'],
      ['edge-b1', 'edge-c1'],
    ])
    expect(edgeLabel(e)).toBe('relay via edge-b1 62ms')
  })
})

describe('graph renderers', () => {
  it('DOT: LAN clusters, relay double-bordered, punched dashed, relay dotted', () => {
    const dot = renderDot(both)
    expect(dot).toMatch(/^graph podlink \{/)
    expect(dot).toContain('subgraph cluster_lan0 {')
    expect(dot).toContain('"edge-b1" [label="edge-b1\\nrelay", peripheries=2')
    expect(dot).toMatch(/"edge-a1" -- "edge-b2" \[[^\]]*style=dashed[^\]]*label="punched 25ms"\]/)
    expect(dot).toMatch(/"edge-a1" -- "edge-b1" \[[^\]]*style=dotted[^\]]*label="relay via edge-b1 62ms"\]/)
    expect(dot).toMatch(/"edge-b1" -- "edge-c1" \[[^\]]*style=dotted/)
  })

  it('Mermaid: subgraphs per LAN and one linkStyle per drawn segment', () => {
    const m = renderMermaid(both)
    expect(m.split('\n')[0]).toBe('graph LR')
    expect(m).toContain('subgraph lan0["LAN 1"]')
    expect(m).toContain('n2(["edge-b1 (relay)"])')
    const links = m.split('\n').filter((l) => / (---|-\.-)/.test(l)).length
    expect(m.split('\n').filter((l) => l.includes('linkStyle'))).toHaveLength(links)
    expect(m).toContain('stroke-dasharray:2 4')
  })

  it('builtin SVG is well-formed and names every node', () => {
    const svg = renderSvg(both)
    expect(checkWellFormedXml(svg)[0]).toBe('svg')
    for (const n of NODES) expect(svg).toContain(`>${n}`)
    expect(svg).toContain('stroke-dasharray="2 5"')
  })

  it('Graphviz SVG (dot -Tsvg) is well-formed and names every node (./run setup installs graphviz)', () => {
    expect(hasGraphviz(), 'dot is not installed: run ./run setup').toBe(true)
    const svg = dotToSvg(renderDot(both))
    expect(checkWellFormedXml(svg)).toContain('svg')
    // Graphviz writes '-' as the character reference &#45;.
    const text = svg.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
    for (const n of NODES) expect(text).toContain(`>${n}<`)
  })

  it('the XML check catches what a broken SVG would contain', () => {
    for (const bad of ['<svg><g></svg>', '<svg a="1" a="2"/>', '<svg>&nbsp;</svg>', '<svg/><svg/>', '<svg x=1/>'])
      expect(() => checkWellFormedXml(bad), bad).toThrow()
  })
})

const chromium = ['chromium', 'chromium-browser', 'google-chrome'].find(
  (b) => spawnSync(b, ['--version'], { stdio: 'ignore' }).status === 0,
)

describe('SVG in a headless browser (./run setup installs chromium)', () => {
  it('has a headless browser to render with', () => {
    expect(chromium, 'chromium is not installed: run ./run setup').toBeDefined()
  })
  it.each([
    ['builtin', () => renderSvg(both)],
    ...(hasGraphviz() ? [['graphviz', () => dotToSvg(renderDot(both))] as const] : []),
  ] as const)(
    '%s SVG renders to a non-trivial PNG',
    (name, svg) => {
      const file = join(tmp, `${name}.svg`)
      const png = join(tmp, `${name}.png`)
      writeFileSync(file, svg())
      execFileSync(
        chromium!,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
          `--user-data-dir=${join(tmp, `profile-${name}`)}`,
          `--screenshot=${png}`,
          '--window-size=1200,800',
          `file://${file}`,
        ],
        { stdio: 'ignore', timeout: 60_000 },
      )
      // A blank 1200x800 PNG compresses to a few KB; a drawn graph with text is well above that.
      expect(statSync(png).size).toBeGreaterThan(15_000)
    },
    90_000,
  )
})
