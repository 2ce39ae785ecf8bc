import { type Command, drawOrWatch, JSON_FLAG, parseFlags, usageError, WATCH_FLAG } from '../command.ts'
import { renderStatus } from '../render/render-status.ts'

const usage = `usage: podlink status [--json] [--watch]
  a summary of everything the agent knows
  --json     the whole AgentStatus object, as the agent served it
  --watch    redraw every 2s
exit 1 when something is wrong: conflicts, a stale view, not ready or unhealthy, an unreachable peer`

export const statusCommand: Command = {
  name: 'status',
  summary: 'a summary of the node (the default command)',
  usage,
  async run(ctx, argv) {
    const { values, positionals } = parseFlags(argv, { ...JSON_FLAG, ...WATCH_FLAG }, usage)
    if (positionals.length > 0) throw usageError(`Cannot take arguments: ${positionals.join(' ')}`, usage)
    return drawOrWatch(ctx, values.watch, async () => {
      const s = await ctx.client.status()
      ctx.out(values.json ? JSON.stringify(s, null, 2) : renderStatus(s, ctx.now(), ctx.paint))
      const wrong =
        s.conflicts.length > 0 ||
        s.view.stale ||
        !s.health.ready ||
        !s.health.healthy ||
        s.peers.some((p) => p.path === 'none')
      return wrong ? 1 : 0
    })
  },
}
