import { type Command, JSON_FLAG, parseFlags, usageError } from '../command.ts'
import { renderPingEvent, renderPingHeader } from '../render/render-ping.ts'

const usage = `usage: podlink ping NODE [--count N] [--json]
  round trips to NODE's agent over the mesh, and the path each took
  --count    probes to send (default 4, 1..1000)
  --json     the agent's events, one JSON object per line
exit 1 when no probe got a reply`

/** Upper bound on --count: the agent holds the request open for the whole run. */
const MAX_COUNT = 1000

export const pingCommand: Command = {
  name: 'ping',
  summary: 'RTT to a node over the mesh, and the path taken',
  usage,
  async run(ctx, argv) {
    const { values, positionals } = parseFlags(
      argv,
      { ...JSON_FLAG, count: { type: 'string', short: 'c', default: '4' } },
      usage,
    )
    const [node, ...rest] = positionals
    if (node === undefined || rest.length > 0) throw usageError('Cannot ping as it takes exactly one NODE', usage)
    const count = Number(values.count)
    if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT)
      throw usageError(
        `Cannot ping as --count must be an integer in 1..${MAX_COUNT}: current value is ${values.count}`,
        usage,
      )
    if (!values.json) ctx.out(renderPingHeader(node, count))
    let received: number | null = null
    for await (const e of ctx.client.ping(node, count, ctx.signal)) {
      ctx.out(values.json ? JSON.stringify(e) : renderPingEvent(e, ctx.paint))
      if (e.type === 'summary') received = e.received
    }
    if (ctx.signal.aborted) return 0
    return received !== null && received > 0 ? 0 : 1
  },
}
