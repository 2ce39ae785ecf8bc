/** `pnpm lab up`: builds the namespaces, links, routers and flannel, then starts the lab's processes. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { PodlinkError } from '@podlink/core'
import type { Topology } from '../topology/topology.ts'
import { daemonPid, startDaemon, waitForLog } from './daemons.ts'
import { startLabAgents } from './lab-agents.ts'
import { startLabApiServer } from './lab-apiserver.ts'
import { existingLabNamespaces } from './lab-down.ts'
import { hostNs, routerHost, stateDir } from './names.ts'
import { NODE_BIN, repoPath } from './paths.ts'
import { NFQUEUE_NUM, planLab } from './plan.ts'
import { inParallel, run } from './run-cmd.ts'

export interface UpOptions {
  readonly agents: boolean
  readonly log?: (line: string) => void
}

export interface UpReport {
  /** Milliseconds spent in each phase, in order. */
  readonly timings: Readonly<Record<string, number>>
  readonly totalMs: number
}

export async function labUp(t: Topology, options: UpOptions): Promise<UpReport> {
  const log = options.log ?? (() => {})
  const dir = stateDir(t.name)
  if (existsSync(`${dir}/topology.json`) || existingLabNamespaces(t.name).length > 0) {
    throw new PodlinkError(
      'ERR_LAB_EXISTS',
      `Cannot bring up lab ${t.name} as it is already up: run \`pnpm lab down ${t.name}\` first`,
    )
  }
  const timings: Record<string, number> = {}
  const started = performance.now()
  let mark = started
  const phase = (name: string): void => {
    const now = performance.now()
    timings[name] = Math.round(now - mark)
    mark = now
  }

  const plan = planLab(t)
  mkdirSync(dir, { recursive: true })
  // Written before anything is created, so that `down` after a killed `up` knows what to remove.
  writeFileSync(`${dir}/topology.json`, `${JSON.stringify(t, null, 2)}\n`)
  writeFileSync(`${dir}/namespaces.json`, `${JSON.stringify(plan.namespaces)}\n`)

  log(`creating ${plan.namespaces.length} namespaces and ${plan.links.length} links`)
  await run(['ip', '-batch', '-'], { input: plan.namespaces.map((ns) => `netns add ${ns}`).join('\n') })
  await run(['ip', '-batch', '-'], { input: plan.links.join('\n') })
  phase('namespaces')

  log('configuring addresses, routes, flannel and routers')
  await inParallel([...plan.perNs.entries()], 6, async ([ns, cfg]) => {
    if (cfg.sysctls.length > 0) await run(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', ...cfg.sysctls])
    await run(['ip', '-n', ns, '-batch', '-'], { input: cfg.ip.join('\n') })
    if (cfg.bridge.length > 0) await run(['bridge', '-n', ns, '-batch', '-'], { input: cfg.bridge.join('\n') })
    if (cfg.iptables) await run(['ip', 'netns', 'exec', ns, 'iptables-restore'], { input: cfg.iptables })
  })
  phase('network')

  for (const lan of t.lans) {
    if (lan.router.delayMs <= 0) continue
    startDaemon({
      lab: t.name,
      label: `delay-${lan.name}`,
      ns: hostNs(t.name, routerHost(lan.name)),
      argv: [repoPath('.tools/bin/nfq-delay'), String(NFQUEUE_NUM), String(lan.router.delayMs)],
    })
  }

  log(`starting the API stand-in on https://${t.apiServer.ip}:${t.apiServer.port}`)
  await startLabApiServer(t)
  phase('apiserver')

  const serving = t.pods.filter((p) => p.serve.length > 0)
  log(`starting echo servers in ${serving.length} pods`)
  for (const pod of serving) {
    startDaemon({
      lab: t.name,
      label: `echo-${pod.name}`,
      ns: hostNs(t.name, pod.name),
      argv: [
        NODE_BIN,
        repoPath('packages/testlab/src/echo/echo-server.ts'),
        '--name',
        pod.name,
        ...pod.serve.flatMap((s) => ['--serve', `${s.protocol}/${s.port}`]),
      ],
    })
  }
  await Promise.all(serving.map((pod) => waitForLog(t.name, `echo-${pod.name}`, `echo ${pod.name} ready`, 15_000)))
  for (const lan of t.lans) {
    if (lan.router.delayMs > 0 && daemonPid(t.name, `delay-${lan.name}`) === null) {
      throw new PodlinkError(
        'ERR_LAB_DELAY',
        `Cannot delay lan ${lan.name} as nfq-delay exited (see pnpm lab logs delay-${lan.name})`,
      )
    }
  }
  phase('pods')

  if (options.agents) {
    await startLabAgents(
      t,
      t.nodes.filter((n) => n.agent).map((n) => n.name),
      log,
    )
    phase('agents')
  }
  return { timings, totalMs: Math.round(performance.now() - started) }
}
