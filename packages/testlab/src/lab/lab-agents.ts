/**
 * The lab's podlink agents: one per node with `agent` not false, started inside the node's namespace
 * with a config the lab writes (kubeconfig with the node's own token, the lab's PSK, the topology's
 * public ranges), its state and status socket under the lab's state directory.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { PodlinkError } from '@podlink/core'
import { stringify } from 'yaml'
import { BUNDLES, bundlePath, ensureBundles } from '../build/bundle.ts'
import type { Topology } from '../topology/topology.ts'
import { daemonPid, startDaemon, stopDaemon } from './daemons.ts'
import { kubeconfigPath } from './lab-apiserver.ts'
import { hostNs, stateDir } from './names.ts'
import { NODE_BIN, repoPath } from './paths.ts'
import { run } from './run-cmd.ts'

export const AGENT_MAIN = repoPath('packages/agent/src/main.ts')
/** The lab runs the bundle (0.8 s to start against 3.5 s from source; ten agents on 2 cores need it). */
const AGENT_BUNDLE = BUNDLES.find((b) => b.entry === 'packages/agent/src/main.ts')!
export const agentDir = (lab: string, node: string): string => `${stateDir(lab)}/nodes/${node}`
export const agentSocketPath = (lab: string, node: string): string => `${agentDir(lab, node)}/agent.sock`
const pskPath = (lab: string): string => `${stateDir(lab)}/psk/swarm.key`
const label = (node: string): string => `agent-${node}`

export function agentAvailable(): boolean {
  return existsSync(AGENT_MAIN)
}

/** The lab's pre-shared key, made once per lab in libp2p's swarm.key format, mode 0600. */
async function ensurePsk(lab: string): Promise<void> {
  if (existsSync(pskPath(lab))) return
  mkdirSync(`${stateDir(lab)}/psk`, { recursive: true, mode: 0o700 })
  const { randomBytes } = await import('node:crypto')
  writeFileSync(pskPath(lab), `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}\n`, { mode: 0o600 })
}

function writeAgentConfig(t: Topology, node: string): string {
  const dir = agentDir(t.name, node)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const config = {
    nodeName: node,
    stateDir: `${dir}/state`,
    statusSocket: agentSocketPath(t.name, node),
    kube: { mode: 'kubeconfig', kubeconfig: kubeconfigPath(t.name, node), kubeProxy: false },
    // What an operator would list: the topology's public ranges, and LANs routed on the internet without NAT.
    mesh: {
      pskFile: pskPath(t.name),
      publicRanges: [
        ...new Set([...t.publicRanges, ...t.lans.filter((l) => l.router.nat === 'none').map((l) => l.cidr)]),
      ],
    },
    // The lab runs no kube-proxy: every ClusterIP is podlink's to capture.
    dataplane: { enabled: process.env.PODLINK_LAB_DATAPLANE !== '0' },
    log: { level: process.env.PODLINK_LAB_LOG_LEVEL ?? 'info' },
  }
  const file = `${dir}/agent.yaml`
  writeFileSync(file, stringify(config))
  return file
}

function nodeArgs(): string[] {
  return (process.env.PODLINK_LAB_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)
}

export async function startLabAgent(t: Topology, node: string): Promise<void> {
  if (!agentAvailable()) {
    throw new PodlinkError(
      'ERR_NO_AGENT',
      `Cannot start the agent on ${node} as there is no agent (packages/agent/src/main.ts is missing): use --no-agents`,
    )
  }
  if (daemonPid(t.name, label(node)) !== null) return
  await ensurePsk(t.name)
  const file = writeAgentConfig(t, node)
  // Rebuilt only when a source is newer, so an agent restarted after an edit never runs stale code.
  ensureBundles()
  startDaemon({
    lab: t.name,
    label: label(node),
    ns: hostNs(t.name, node),
    // PODLINK_LAB_NODE_ARGS: node/V8 flags for the agents (profiling, GC tracing), which NODE_OPTIONS refuses.
    argv: [NODE_BIN, ...nodeArgs(), bundlePath(AGENT_BUNDLE), '--config', file],
  })
}

/** Resolves when the agent's status socket answers with a synced view, or fails with its log's tail. */
export async function waitAgentReady(t: Topology, node: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const status = await readAgentStatus(agentSocketPath(t.name, node)).catch(() => null)
    // Ready means routing from a view: synced from the API, or from the cache while the API is away.
    const view = (status as { view?: { synced?: boolean; stale?: boolean } } | null)?.view
    if (view?.synced || view?.stale) return
    if (daemonPid(t.name, label(node)) === null) {
      throw new PodlinkError(
        'ERR_AGENT_EXITED',
        `Cannot start the agent on ${node} as it exited (pnpm lab logs ${node})`,
      )
    }
    if (Date.now() > deadline)
      throw new PodlinkError(
        'ERR_AGENT_TIMEOUT',
        `Cannot start the agent on ${node} as it was not ready after ${timeoutMs} ms (pnpm lab logs ${node})`,
      )
    await sleep(50)
  }
}

export function readAgentStatus(socketPath: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    // agent: false: a kept-alive socket from a read minutes ago is closed by the server by now (EPIPE on reuse).
    const req = request({ socketPath, path: '/status', timeout: 2000, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (d: string) => {
        body += d
      })
      res.on('end', () => {
        try {
          resolve(JSON.parse(body))
        } catch (err) {
          reject(err)
        }
      })
    })
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.end()
  })
}

export async function startLabAgents(
  t: Topology,
  nodes: readonly string[],
  log: (line: string) => void,
): Promise<void> {
  if (nodes.length === 0) return
  const built = ensureBundles()
  log(`starting agents on ${nodes.join(', ')}${built.length > 0 ? ` (rebuilt ${built.join(', ')})` : ''}`)
  for (const node of nodes) await startLabAgent(t, node)
  await Promise.all(nodes.map((node) => waitAgentReady(t, node, 30_000)))
}

/** `pnpm lab agent NODE start|stop|kill|restart`. */
export async function agentCommand(t: Topology, node: string, action: string): Promise<string> {
  if (!t.nodes.some((n) => n.name === node)) {
    throw new PodlinkError('ERR_NO_HOST', `Cannot control an agent on ${node} as lab ${t.name} has no such node`)
  }
  switch (action) {
    case 'start':
      await startLabAgent(t, node)
      await waitAgentReady(t, node, 30_000)
      return `agent on ${node} started`
    case 'stop':
      return (await stopDaemon(t.name, label(node), 'SIGTERM', 10_000))
        ? `agent on ${node} stopped`
        : `agent on ${node} was not running`
    case 'kill': {
      const pid = daemonPid(t.name, label(node))
      if (pid === null) return `agent on ${node} was not running`
      await stopDaemon(t.name, label(node), 'SIGKILL', 1000)
      return `agent on ${node} killed (pid ${pid})`
    }
    case 'restart':
      await stopDaemon(t.name, label(node), 'SIGTERM', 10_000)
      await startLabAgent(t, node)
      await waitAgentReady(t, node, 30_000)
      return `agent on ${node} restarted`
    default:
      throw new PodlinkError('ERR_USAGE', `Cannot ${action} an agent: use start, stop, kill or restart`)
  }
}

/** Runs the podlink CLI inside a node's namespace against that node's agent. */
export function podlinkOnNode(
  lab: string,
  node: string,
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(
    [
      'ip',
      'netns',
      'exec',
      hostNs(lab, node),
      'env',
      `PODLINK_AGENT_SOCKET=${agentSocketPath(lab, node)}`,
      NODE_BIN,
      repoPath('packages/cli/src/main.ts'),
      ...args,
    ],
    {
      allowFail: true,
    },
  )
}
