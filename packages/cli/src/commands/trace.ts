import { type Command, JSON_FLAG, parseFlags, usageError } from '../command.ts'
import { renderTrace } from '../render/render-trace.ts'

const usage = `usage: podlink trace IP[:PORT][/udp] [--json]
  why a destination goes where it goes from this node: ClusterIP or pod, whether the capture rules
  take it (and which rule), the route, the endpoints, and the peer path each would use
  IPv6 with a port: [fd00::5]:80; protocol defaults to tcp
  --json     the agent's DestinationTrace object
exit 1 when traffic to it cannot be carried`

export const traceCommand: Command = {
  name: 'trace',
  summary: 'why a destination IP[:PORT][/udp] goes where it goes',
  usage,
  async run(ctx, argv) {
    const { values, positionals } = parseFlags(argv, JSON_FLAG, usage)
    const [dst, ...rest] = positionals
    if (dst === undefined || rest.length > 0)
      throw usageError('Cannot trace as it takes exactly one destination', usage)
    const t = await ctx.client.trace(dst)
    ctx.out(values.json ? JSON.stringify(t, null, 2) : renderTrace(t, ctx.paint))
    return t.broken ? 1 : 0
  },
}
