import { type Command, drawOrWatch, JSON_FLAG, parseFlags, usageError, WATCH_FLAG } from '../command.ts'
import { renderPeers } from '../render/render-peers.ts'

const usage = `usage: podlink peers [--json] [--watch]
  every peer this node knows: LAN, path (lan, direct, punched, relay via X, none), RTT, bytes, flows, and why
  --json     the status's peers array, unchanged
  --watch    redraw every 2s
exit 1 when a peer has no path`

/** `podlink peers`: exit 1 when any peer is unreachable (path none), so a script can alert on it. */
export const peersCommand: Command = {
  name: 'peers',
  summary: 'peers, the path to each (lan, direct, punched, relay via X) and why',
  usage,
  async run(ctx, argv) {
    const { values, positionals } = parseFlags(argv, { ...JSON_FLAG, ...WATCH_FLAG }, usage)
    if (positionals.length > 0) throw usageError(`Cannot take arguments: ${positionals.join(' ')}`, usage)
    return drawOrWatch(ctx, values.watch, async () => {
      const s = await ctx.client.status()
      ctx.out(values.json ? JSON.stringify(s.peers, null, 2) : renderPeers(s, ctx.now(), ctx.paint))
      return s.peers.some((p) => p.path === 'none') ? 1 : 0
    })
  },
}
