import { readFileSync } from 'node:fs'
import type { AgentStatus } from '@podlink/core'
import { PodlinkError } from '@podlink/core'
import { type Command, JSON_FLAG, parseFlags, usageError } from '../command.ts'
import { dotToSvg, hasGraphviz } from '../graph/graphviz.ts'
import { buildMeshGraph } from '../graph/mesh-graph.ts'
import { renderDot } from '../graph/render-dot.ts'
import { renderMermaid } from '../graph/render-mermaid.ts'
import { renderSvg } from '../graph/render-svg.ts'

const FORMATS = ['dot', 'svg', 'mermaid'] as const

const usage = `usage: podlink graph [--format dot|svg|mermaid] [--from FILE]... [--builtin] [--json]
  the mesh as a picture: LANs as clusters, edges by path (punched dashed, relayed dotted through the relay)
  --format   dot (default), svg (Graphviz's dot -Tsvg when installed, else a builtin layout), mermaid
  --from     an AgentStatus JSON file (podlink status --json on a node); repeat it, or list files after it,
             to combine several nodes' views into one cluster-wide graph. Default: this node's status
  --builtin  with --format svg: use the builtin layout even if Graphviz is installed
  --json     the combined graph model (nodes, LANs, edges with every reporter's view)
  e.g. for n in $(kubectl get nodes -o name); do ...podlink status --json > $n.json; done
       podlink graph --format svg --from *.json > mesh.svg`

function readStatusFile(path: string): AgentStatus {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new PodlinkError('ERR_USAGE', `Cannot read ${path} as an AgentStatus: ${(err as Error).message}`, {
      cause: err,
    })
  }
  const s = parsed as Partial<AgentStatus>
  if (typeof s?.node !== 'string' || !Array.isArray(s.peers) || !Array.isArray(s.relays))
    throw new PodlinkError(
      'ERR_USAGE',
      `Cannot read ${path} as an AgentStatus: no node, peers or relays (use podlink status --json)`,
    )
  return parsed as AgentStatus
}

export const graphCommand: Command = {
  name: 'graph',
  summary: 'the mesh as DOT, SVG or Mermaid (one node, or several with --from)',
  usage,
  async run(ctx, argv) {
    const { values, positionals } = parseFlags(
      argv,
      {
        ...JSON_FLAG,
        format: { type: 'string', short: 'f', default: 'dot' },
        from: { type: 'string', multiple: true },
        builtin: { type: 'boolean', default: false },
      },
      usage,
    )
    if (!(FORMATS as readonly string[]).includes(values.format))
      throw usageError(`Cannot draw the graph as ${values.format}: use one of ${FORMATS.join(', ')}`, usage)
    const files = [...(values.from ?? []), ...positionals]
    if (positionals.length > 0 && values.from === undefined)
      throw usageError(`Cannot take arguments without --from: ${positionals.join(' ')}`, usage)
    const statuses = files.length > 0 ? files.map(readStatusFile) : [await ctx.client.status()]
    const graph = buildMeshGraph(statuses)
    if (values.json) ctx.out(JSON.stringify(graph, null, 2))
    else if (values.format === 'mermaid') ctx.out(renderMermaid(graph))
    else if (values.format === 'dot') ctx.out(renderDot(graph))
    else ctx.out(!values.builtin && hasGraphviz() ? dotToSvg(renderDot(graph)).trimEnd() : renderSvg(graph))
    return 0
  },
}
