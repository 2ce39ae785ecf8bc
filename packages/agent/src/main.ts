#!/usr/bin/env node
/** `podlink-agent`: the DaemonSet's process on every node. See `podlink-agent --help`. */
import { assertSupportedRuntime, PodlinkError } from '@podlink/core'
import { createDataplane, createNetfilter } from '@podlink/dataplane'
import { AGENT_VERSION, buildAgent } from './build-agent.ts'
import { loadConfig, readConfigFile, resolveConfig } from './config/load-config.ts'
import { parseArgs, usage } from './config/parse-flags.ts'
import { createKubeClusterSource } from './kube-cluster-source.ts'
import { createLogger } from './log.ts'

async function main(argv: readonly string[]): Promise<number> {
  assertSupportedRuntime()
  const args = parseArgs(argv)
  if (args.command === 'help') {
    console.log(usage())
    return 0
  }
  if (args.command === 'version') {
    console.log(AGENT_VERSION)
    return 0
  }
  if (args.command === 'config-check') {
    if (!args.configFile)
      throw new PodlinkError('ERR_USAGE', 'Cannot check a config without a file: podlink-agent config check FILE')
    const r = resolveConfig({
      fileText: readConfigFile(args.configFile),
      fileName: args.configFile,
      flags: args.flags,
      env: { NODE_NAME: 'config-check' },
    })
    if (r.ok) {
      console.log(`${args.configFile}: ok`)
      return 0
    }
    for (const p of r.problems) console.error(`${args.configFile}: ${p}`)
    return 1
  }
  const config = loadConfig({
    ...(args.configFile ? { fileText: readConfigFile(args.configFile), fileName: args.configFile } : {}),
    flags: args.flags,
    env: process.env,
  })
  const log = createLogger(config.log.level, { node: config.nodeName })
  if (args.command === 'cleanup') {
    // After a crash (SIGKILL, OOM) the rules stay: remove every PODLINK-* chain and jump, our ipsets,
    // ip rules and routes, whether or not this process made them.
    const netfilter = await createNetfilter()
    const dp = createDataplane(
      { netfilter },
      {
        kubeProxy: config.kube.kubeProxy,
        tcpPort: config.dataplane.tcpPort,
        udpPort: config.dataplane.udpPort,
        bypassMark: config.dataplane.bypassMark,
        tproxyMark: config.dataplane.tproxyMark,
      },
    )
    await dp.cleanup()
    log.info({ iptablesMode: dp.status().mode }, 'removed podlink rules, sets, ip rules and routes')
    return 0
  }
  const cluster = createKubeClusterSource(config, log)
  const agent = buildAgent(config, { log, cluster })
  let stopping: Promise<void> | null = null
  const stop = (signal: string): void => {
    if (stopping) return
    log.info({ signal }, 'stopping')
    stopping = agent.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: String(err) }, 'stop failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  await agent.start()
  return -1
}

try {
  const code = await main(process.argv.slice(2))
  if (code >= 0) process.exitCode = code
} catch (err) {
  console.error(err instanceof PodlinkError ? `podlink-agent: ${err.message}` : err)
  process.exitCode = 1
  process.exit(1)
}
