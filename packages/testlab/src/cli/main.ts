/**
 * `pnpm lab <command>`: the lab tool of ../shared/lab/TOPOLOGY.md.
 *   up FILE [--no-agents] | status [--json] | exec NAME -- CMD... | probe FROM IP:PORT [--udp] [--count N] [--json]
 *   kubectl -- ARGS... | agent NODE start|stop|kill|restart | logs NAME | apiserver start|stop | down [NAME]
 * Commands other than `up` act on the only running lab, or on `--lab NAME`.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { assertSupportedRuntime, PodlinkError } from '@podlink/core'
import { logFile } from '../lab/daemons.ts'
import { agentCommand, agentSocketPath } from '../lab/lab-agents.ts'
import { ADMIN_USER, kubeconfigPath, startLabApiServer, stopLabApiServer } from '../lab/lab-apiserver.ts'
import { labDown } from '../lab/lab-down.ts'
import { labStatus, loadLabTopology, renderLabStatus, resolveLab, runningLabs } from '../lab/lab-status.ts'
import { labUp } from '../lab/lab-up.ts'
import { API_HOST, hostNs, labHosts } from '../lab/names.ts'
import { NODE_BIN, repoPath } from '../lab/paths.ts'
import { loadTopologyText } from '../topology/parse-topology.ts'

const USAGE = `usage: pnpm lab <command> [--lab NAME]
  up FILE [--no-agents]            build the topology, start the API stand-in, pods and agents
  status [--json]                  hosts, addresses, processes
  exec NAME -- CMD...              run CMD in a node, pod, router (gw-LAN) or apiserver namespace
  probe FROM IP:PORT [--udp] [--count N] [--json]
  kubectl -- ARGS...               kubectl against the API stand-in
  agent NODE start|stop|kill|restart
  logs NAME                        an agent's log (NAME = node), or any lab process's (apiserver, echo-POD)
  apiserver start|stop             take the API stand-in away and bring it back (state kept)
  down [NAME]                      remove every namespace, link, process and file of the lab`

function takeFlag(args: string[], flag: string): boolean {
  const i = args.indexOf(flag)
  if (i < 0) return false
  args.splice(i, 1)
  return true
}

function takeOption(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag)
  if (i < 0) return undefined
  const v = args[i + 1]
  args.splice(i, 2)
  return v
}

/** Splits `NAME -- CMD...` (pnpm may or may not keep the `--`). */
function afterDashes(args: string[]): string[] {
  const i = args.indexOf('--')
  return i < 0 ? args : args.slice(i + 1)
}

function hostNsOf(lab: string, name: string): string {
  const t = loadLabTopology(lab)
  const host = labHosts(t).find((h) => h.name === name)
  if (!host)
    throw new PodlinkError(
      'ERR_NO_HOST',
      `Cannot find ${name} in lab ${lab}: hosts are ${labHosts(t)
        .map((h) => h.name)
        .join(', ')}`,
    )
  return host.ns
}

async function main(argv: string[]): Promise<number> {
  assertSupportedRuntime()
  const args = [...argv]
  const labOpt = takeOption(args, '--lab') ?? process.env.PODLINK_LAB
  const cmd = args.shift()
  switch (cmd) {
    case 'up': {
      const agents = !takeFlag(args, '--no-agents')
      const file = args[0]
      if (!file) throw new PodlinkError('ERR_USAGE', 'Cannot bring up a lab without a topology file: pnpm lab up FILE')
      if (!existsSync(file)) throw new PodlinkError('ERR_USAGE', `Cannot read ${file} as it does not exist`)
      const { topology, warnings } = loadTopologyText(readFileSync(file, 'utf8'), file)
      for (const w of warnings) console.error(`warning: ${w}`)
      try {
        const report = await labUp(topology, { agents, log: (l) => console.error(`==> ${l}`) })
        const phases = Object.entries(report.timings)
          .map(([k, v]) => `${k} ${v} ms`)
          .join(', ')
        console.log(`lab ${topology.name} is up in ${(report.totalMs / 1000).toFixed(1)} s (${phases})`)
        console.log(`  pnpm lab status --lab ${topology.name}    pnpm lab down ${topology.name}`)
      } catch (err) {
        if (process.env.PODLINK_LAB_KEEP === '1')
          console.error(`lab ${topology.name} failed to come up; kept for inspection (PODLINK_LAB_KEEP=1)`)
        else {
          console.error(`lab ${topology.name} failed to come up; taking it down (PODLINK_LAB_KEEP=1 keeps it)`)
          await labDown(topology.name)
        }
        throw err
      }
      return 0
    }
    case 'down': {
      const names = args[0] ? [args[0]] : labOpt ? [labOpt] : runningLabs()
      if (names.length === 0) console.log('no lab is up')
      for (const name of names) {
        const r = await labDown(name)
        console.log(
          `lab ${name} is down: ${r.namespaces} namespaces and ${r.processes} processes removed in ${r.ms} ms`,
        )
      }
      return 0
    }
    case 'status': {
      const s = labStatus(resolveLab(labOpt))
      console.log(takeFlag(args, '--json') ? JSON.stringify(s, null, 2) : renderLabStatus(s))
      return 0
    }
    case 'exec': {
      const lab = resolveLab(labOpt)
      const name = args.shift()
      const command = afterDashes(args)
      if (!name || command.length === 0)
        throw new PodlinkError('ERR_USAGE', 'Cannot exec without a host and a command: pnpm lab exec NAME -- CMD...')
      const env = {
        ...process.env,
        PODLINK_AGENT_SOCKET: agentSocketPath(lab, name),
        PODLINK_LAB: lab,
      }
      return spawnSync('ip', ['netns', 'exec', hostNsOf(lab, name), ...command], { stdio: 'inherit', env }).status ?? 1
    }
    case 'probe': {
      const lab = resolveLab(labOpt)
      const from = args.shift()
      if (!from || args.length === 0)
        throw new PodlinkError('ERR_USAGE', 'Cannot probe without a source and a target: pnpm lab probe FROM IP:PORT')
      return (
        spawnSync(
          'ip',
          ['netns', 'exec', hostNsOf(lab, from), NODE_BIN, repoPath('packages/testlab/src/probe/probe.ts'), ...args],
          { stdio: 'inherit' },
        ).status ?? 1
      )
    }
    case 'kubectl': {
      const lab = resolveLab(labOpt)
      const ns = hostNs(lab, API_HOST)
      return (
        spawnSync(
          'ip',
          ['netns', 'exec', ns, 'kubectl', '--kubeconfig', kubeconfigPath(lab, ADMIN_USER), ...afterDashes(args)],
          { stdio: 'inherit' },
        ).status ?? 1
      )
    }
    case 'apiserver': {
      const lab = resolveLab(labOpt)
      if (args[0] === 'stop')
        console.log((await stopLabApiServer(lab)) ? 'apiserver stopped' : 'apiserver was not running')
      else if (args[0] === 'start') {
        await startLabApiServer(loadLabTopology(lab))
        console.log('apiserver started')
      } else throw new PodlinkError('ERR_USAGE', 'Cannot control the apiserver without start or stop')
      return 0
    }
    case 'agent': {
      const lab = resolveLab(labOpt)
      const [node, action] = args
      if (!node || !action)
        throw new PodlinkError(
          'ERR_USAGE',
          'Cannot control an agent without NODE and an action: pnpm lab agent NODE start|stop|kill|restart',
        )
      console.log(await agentCommand(loadLabTopology(lab), node, action))
      return 0
    }
    case 'logs': {
      const lab = resolveLab(labOpt)
      const name = args[0]
      if (!name) throw new PodlinkError('ERR_USAGE', 'Cannot show logs without a NAME')
      const t = loadLabTopology(lab)
      const label = t.nodes.some((n) => n.name === name) ? `agent-${name}` : name
      const file = logFile(lab, label)
      if (!existsSync(file))
        throw new PodlinkError('ERR_NO_LOG', `Cannot show the log of ${name} as ${file} does not exist`)
      process.stdout.write(readFileSync(file, 'utf8'))
      return 0
    }
    default:
      console.error(USAGE)
      return cmd === undefined || cmd === 'help' || cmd === '--help' ? 0 : 2
  }
}

try {
  process.exitCode = await main(process.argv.slice(2))
} catch (err) {
  console.error(err instanceof PodlinkError ? `pnpm lab: ${err.message}` : err)
  process.exitCode = 1
}
