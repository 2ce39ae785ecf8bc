import { type Command, JSON_FLAG, parseFlags, usageError } from '../command.ts'
import { renderConflicts } from '../render/render-conflicts.ts'

const usage = `usage: podlink conflicts [--json]
  what the agent refuses to route (overlapping or missing pod CIDRs, duplicate peer IDs, bad annotations)
  --json     the status's conflicts array, unchanged
exit 1 when there is any`

export const conflictsCommand: Command = {
  name: 'conflicts',
  summary: 'what the agent refuses to route, and why (exit 1 if any)',
  usage,
  async run(ctx, argv) {
    const { values, positionals } = parseFlags(argv, JSON_FLAG, usage)
    if (positionals.length > 0) throw usageError(`Cannot take arguments: ${positionals.join(' ')}`, usage)
    const s = await ctx.client.status()
    ctx.out(values.json ? JSON.stringify(s.conflicts, null, 2) : renderConflicts(s, ctx.paint))
    return s.conflicts.length > 0 ? 1 : 0
  },
}
