import { type Command, drawOrWatch, JSON_FLAG, parseFlags, usageError, WATCH_FLAG } from '../command.ts'
import { renderRoutes } from '../render/render-routes.ts'

const usage = `usage: podlink routes [--json] [--watch]
  where each pod CIDR goes from this node (local, lan, mesh, conflict), and why
  --json     the status's routes array, unchanged
  --watch    redraw every 2s
exit 1 when there are conflicts`

export const routesCommand: Command = {
  name: 'routes',
  summary: 'where each pod CIDR goes from this node, and why',
  usage,
  async run(ctx, argv) {
    const { values, positionals } = parseFlags(argv, { ...JSON_FLAG, ...WATCH_FLAG }, usage)
    if (positionals.length > 0) throw usageError(`Cannot take arguments: ${positionals.join(' ')}`, usage)
    return drawOrWatch(ctx, values.watch, async () => {
      const s = await ctx.client.status()
      ctx.out(values.json ? JSON.stringify(s.routes, null, 2) : renderRoutes(s, ctx.paint))
      return s.conflicts.length > 0 ? 1 : 0
    })
  },
}
