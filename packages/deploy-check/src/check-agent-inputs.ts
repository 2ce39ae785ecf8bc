/**
 * Checks what the manifests hand the agent against the agent's own code: the container's args go
 * through its `parseArgs`, its env names must be options of CONFIG_SCHEMA, and the ConfigMap's file
 * plus that env plus those flags must pass its `resolveConfig`, as on a node. Returns every problem
 * and the configs that resolved, so a renamed flag, env var or key fails the tests, not a rollout.
 */
import { dirname } from 'node:path'
import type { AgentConfig } from '../../agent/src/config/agent-config.ts'
import { CONFIG_SCHEMA } from '../../agent/src/config/config-schema.ts'
import { resolveConfig } from '../../agent/src/config/load-config.ts'
import { parseArgs } from '../../agent/src/config/parse-flags.ts'

/** The node name the downward API would put in NODE_NAME. */
export const TEST_NODE = 'edge-node-1'

interface Container {
  name: string
  args?: string[]
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[]
  ports?: { name: string; containerPort: number }[]
  volumeMounts?: { name: string; mountPath: string }[]
}
interface Volume {
  name: string
  configMap?: { name: string }
  secret?: { secretName: string; items?: { key: string; path: string }[] }
}
interface Obj {
  kind: string
  metadata: { name: string }
  data?: Record<string, string>
  spec?: { template: { spec: { containers: Container[]; volumes: Volume[] } } }
}

export interface AgentInputs {
  readonly problems: string[]
  readonly configs: Map<string, AgentConfig>
}

export function checkAgentInputs(objects: readonly unknown[]): AgentInputs {
  const problems: string[] = []
  const configs = new Map<string, AgentConfig>()
  const all = objects as Obj[]
  const envNames = new Set(CONFIG_SCHEMA.map((s) => s.env))
  for (const ds of all.filter((o) => o.kind === 'DaemonSet')) {
    const at = `DaemonSet ${ds.metadata.name}`
    const pod = ds.spec!.template.spec
    const agent = pod.containers.find((c) => c.name === 'agent')
    if (!agent) {
      problems.push(`${at}: no container named agent`)
      continue
    }
    const args = parseArgs(agent.args ?? [])
    if (args.command !== 'run') problems.push(`${at}: args run ${args.command}, not run`)
    const env: Record<string, string> = {}
    for (const e of agent.env ?? []) {
      if (!envNames.has(e.name)) problems.push(`${at}: env ${e.name} is no option of the agent`)
      if (e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') env[e.name] = TEST_NODE
      else if (e.value !== undefined) env[e.name] = e.value
      else problems.push(`${at}: env ${e.name} has neither a value nor spec.nodeName`)
    }
    let fileText: string | undefined
    if (args.configFile) {
      const mount = agent.volumeMounts?.find((m) => args.configFile!.startsWith(`${m.mountPath}/`))
      const volume = pod.volumes.find((v) => v.name === mount?.name)
      const cm = all.find((o) => o.kind === 'ConfigMap' && o.metadata.name === volume?.configMap?.name)
      fileText = cm?.data?.[args.configFile.slice(mount!.mountPath.length + 1)]
      if (fileText === undefined) problems.push(`${at}: --config ${args.configFile} is no key of a mounted ConfigMap`)
    }
    const r = resolveConfig({
      ...(fileText !== undefined ? { fileText, fileName: 'config.yaml' } : {}),
      flags: args.flags,
      env,
    })
    if (!r.ok) {
      problems.push(...r.problems.map((p) => `${at}: ${p}`))
      continue
    }
    configs.set(ds.metadata.name, r.config)
    problems.push(...checkMounts(at, r.config, agent, pod.volumes))
  }
  return { problems, configs }
}

/** The paths and ports the config names exist in the pod: state, socket and PSK mounts, container ports. */
function checkMounts(at: string, c: AgentConfig, agent: Container, volumes: Volume[]): string[] {
  const problems: string[] = []
  const mountAt = (path: string) => agent.volumeMounts?.find((m) => m.mountPath === path)
  if (!mountAt(c.stateDir))
    problems.push(`${at}: stateDir ${c.stateDir} is not a mount (the identity key would not survive)`)
  if (!mountAt(dirname(c.statusSocket))) problems.push(`${at}: the status socket's directory is not a mount`)
  const pskMount = mountAt(dirname(c.mesh.pskFile))
  const pskVolume = volumes.find((v) => v.name === pskMount?.name)
  const item = pskVolume?.secret?.items?.find(
    (i) => i.path === c.mesh.pskFile.slice(dirname(c.mesh.pskFile).length + 1),
  )
  if (!item) problems.push(`${at}: mesh.pskFile ${c.mesh.pskFile} is not a mounted Secret item`)
  const port = (name: string) => agent.ports?.find((p) => p.name === name)?.containerPort
  if (port('metrics') !== c.metrics.port) problems.push(`${at}: port metrics is not metrics.port ${c.metrics.port}`)
  if (port('mesh') !== c.mesh.listenPort) problems.push(`${at}: port mesh is not mesh.listenPort ${c.mesh.listenPort}`)
  if (c.mesh.fastPath && port('fast') !== c.mesh.fastPort)
    problems.push(`${at}: port fast is not mesh.fastPort ${c.mesh.fastPort}`)
  return problems
}
