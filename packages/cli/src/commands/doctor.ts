import type { AgentStatus } from '@podlink/core'
import { hasCode } from '@podlink/core'
import { agentSocket } from '../agent-client.ts'
import { type Command, JSON_FLAG, parseFlags, usageError } from '../command.ts'
import { runDoctorChecks } from '../doctor/doctor-checks.ts'
import { gatherNodeFacts } from '../doctor/gather-node-facts.ts'
import { renderDoctor } from '../doctor/render-doctor.ts'

const usage = `usage: podlink doctor [--psk-file PATH] [--json]
  checks this node: agent socket, API sync and clock skew, iptables backend vs kube-proxy, ipset,
  kernel REDIRECT / conntrack (+netlink) / ipset types / set match, mark bits, the PSK file; prints what is wrong and how to fix it
  --psk-file  the PSK to check (default: the agent's, else /etc/podlink/psk/swarm.key)
  --json      the check results
exit 1 when any check fails (warnings do not); run as root to see iptables and the PSK`

export const doctorCommand: Command = {
  name: 'doctor',
  summary: "checks the node's kernel, iptables, PSK and agent, and says how to fix what is wrong",
  usage,
  async run(ctx, argv) {
    const { values, positionals } = parseFlags(argv, { ...JSON_FLAG, 'psk-file': { type: 'string' } }, usage)
    if (positionals.length > 0) throw usageError(`Cannot take arguments: ${positionals.join(' ')}`, usage)
    let status: AgentStatus | null = null
    let statusError: string | null = null
    try {
      status = await ctx.client.status()
    } catch (err) {
      // Doctor reports an absent agent as a failed check instead of exiting 3: the other checks still help.
      if (!hasCode(err, 'ERR_NO_AGENT') && !hasCode(err, 'ERR_AGENT_REQUEST')) throw err
      statusError = (err as Error).message
    }
    const facts = gatherNodeFacts({
      socketPath: agentSocket(ctx.env),
      status,
      statusError,
      now: ctx.now(),
      ...(values['psk-file'] !== undefined ? { pskFile: values['psk-file'] } : {}),
    })
    const results = runDoctorChecks(facts)
    ctx.out(values.json ? JSON.stringify(results, null, 2) : renderDoctor(results, ctx.paint))
    return results.some((r) => r.level === 'fail') ? 1 : 0
  },
}
