import { type Command, drawOrWatch, JSON_FLAG, parseFlags, usageError, WATCH_FLAG } from '../command.ts'
import { FLOW_SORTS, type FlowSort, renderFlows, sortFlows } from '../render/render-flows.ts'

const usage = `usage: podlink flows [--sort bytes|tx|rx|age] [--json] [--watch]
  connections and UDP associations the mesh carries now
  --sort     bytes (tx+rx, default), tx, rx: largest first; age: oldest first
  --json     the status's flows array, in the chosen order
  --watch    redraw every 2s`

export const flowsCommand: Command = {
  name: 'flows',
  summary: 'captured connections the mesh carries now (--sort tx|rx|bytes|age)',
  usage,
  async run(ctx, argv) {
    const { values, positionals } = parseFlags(
      argv,
      { ...JSON_FLAG, ...WATCH_FLAG, sort: { type: 'string', short: 's', default: 'bytes' } },
      usage,
    )
    if (positionals.length > 0) throw usageError(`Cannot take arguments: ${positionals.join(' ')}`, usage)
    if (!(FLOW_SORTS as readonly string[]).includes(values.sort))
      throw usageError(`Cannot sort flows by ${values.sort}: use one of ${FLOW_SORTS.join(', ')}`, usage)
    const by = values.sort as FlowSort
    return drawOrWatch(ctx, values.watch, async () => {
      const s = await ctx.client.status()
      ctx.out(values.json ? JSON.stringify(sortFlows(s.flows, by), null, 2) : renderFlows(s, by, ctx.now(), ctx.paint))
      return 0
    })
  },
}
