import { type Command, JSON_FLAG, parseFlags, usageError } from '../command.ts'
import { renderServices } from '../render/render-services.ts'

const usage = `usage: podlink services [--json]
  every ClusterIP:port, whether podlink captures it (an endpoint is off this LAN), and its endpoints
  --json     the status's services array, unchanged`

export const servicesCommand: Command = {
  name: 'services',
  summary: 'ClusterIPs, whether podlink captures them, and their endpoints',
  usage,
  async run(ctx, argv) {
    const { values, positionals } = parseFlags(argv, JSON_FLAG, usage)
    if (positionals.length > 0) throw usageError(`Cannot take arguments: ${positionals.join(' ')}`, usage)
    const s = await ctx.client.status()
    ctx.out(values.json ? JSON.stringify(s.services, null, 2) : renderServices(s, ctx.paint))
    return 0
  },
}
