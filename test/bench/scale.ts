/**
 * Scale figures, through the lab's agents and API stand-in:
 *   agent start -> direct path: a-1's agent restarted, one flow to pub-1's pod at ready, until a-1 reports direct;
 *   Node added -> routes everywhere: `kubectl apply` of a new Node (its write returned) until every agent routes its podCIDR;
 *   agent RSS: idle (a-1, restarted); the exit pub-1 holding 8,000 open flows from 8 peers (1,000 each: the exit
 *   caps one peer at 1,024 concurrent flows; --quick 2,000); a-1 with 1,000 simulated Nodes (real Ed25519 peer IDs,
 *   InternalIPs nobody answers) in its view (--quick 200).
 */

import { spawnSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { stopDaemon } from '../../packages/testlab/src/lab/daemons.ts'
import { startLabAgent, waitAgentReady } from '../../packages/testlab/src/lab/lab-agents.ts'
import { ADMIN_USER, kubeconfigPath } from '../../packages/testlab/src/lab/lab-apiserver.ts'
import { stateDir } from '../../packages/testlab/src/lab/names.ts'
import type { Topology } from '../../packages/testlab/src/topology/topology.ts'
import { agentPid, agentStatus, LAB, NODE, nsSpawn, RR_LOAD, rrLoad, rssMiB, waitFor, waitReady } from './bench-lab.ts'

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
function base58(bytes: Uint8Array): string {
  let n = BigInt(`0x${Buffer.from(bytes).toString('hex')}`)
  let out = ''
  while (n > 0n) {
    out = B58[Number(n % 58n)]! + out
    n /= 58n
  }
  for (const b of bytes) {
    if (b !== 0) break
    out = `1${out}`
  }
  return out
}

/** A real libp2p Ed25519 peer ID: identity multihash of the protobuf PublicKey { Type: Ed25519, Data }. */
function newPeerId(): string {
  const { publicKey } = generateKeyPairSync('ed25519')
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url')
  return base58(Buffer.concat([Buffer.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]), raw]))
}

function simNode(i: number): object {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: `sim-${String(i).padStart(5, '0')}`,
      annotations: { 'podlink.io/peer-id': newPeerId(), 'podlink.io/mesh-port': '4001' },
    },
    spec: { podCIDR: `10.${100 + Math.floor(i / 256)}.${i % 256}.0/24` },
    status: { addresses: [{ type: 'InternalIP', address: `172.20.${Math.floor(i / 250)}.${(i % 250) + 2}` }] },
  }
}

function kubectl(args: readonly string[]): void {
  const r = spawnSync(
    'ip',
    ['netns', 'exec', `${LAB}.apiserver`, 'kubectl', '--kubeconfig', kubeconfigPath(LAB, ADMIN_USER), ...args],
    { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 300_000 },
  )
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`)
}

export interface ScaleFigures {
  startToReadyMs: number
  startToDirectMs: number
  nodeAddedToRoutesEverywhereMs: number[]
  nodeAddedToRoutesEverywhereMsP50: number
  agents: number
  rssIdleMiB: number
  rssIdleAllAgentsMiB: { min: number; max: number }
  flowsOpened: number
  flowsFailed: number
  flowSources: number
  rssWithFlowsMiB: { exit: number; entryA1: number }
  exitRssPerThousandFlowsMiB: number
  simulatedNodes: number
  simulatedNodesRoutedAfterMs: number
  rssWithSimulatedNodesMiB: number
  rssWithNodesAllAgentsMiB: { min: number; max: number }
}

export async function scaleFigures(
  t: Topology,
  options: { quick: boolean; log: (line: string) => void },
): Promise<ScaleFigures> {
  const { log, quick } = options
  const agents = t.nodes.filter((n) => n.agent).map((n) => n.name)

  // Agent start -> ready -> direct path to pub-1 (the first flow sent as soon as it is ready).
  await stopDaemon(LAB, 'agent-a-1', 'SIGTERM', 10_000)
  const t0 = performance.now()
  await startLabAgent(t, 'a-1')
  await waitAgentReady(t, 'a-1', 60_000)
  await waitReady(['a-1'])
  const startToReadyMs = Math.round(performance.now() - t0)
  rrLoad('cli-a1', ['conn', '10.244.10.2:8080', '1', '1'])
  await waitFor(20_000, async () =>
    (await agentStatus('a-1')).peers.find((p) => p.node === 'pub-1')?.path === 'direct' ? true : undefined,
  )
  const startToDirectMs = Math.round(performance.now() - t0)
  log(`scale: a-1 agent start -> ready ${startToReadyMs} ms, -> direct path to pub-1 ${startToDirectMs} ms`)
  await sleep(3000)
  const rssIdleMiB = rssMiB(agentPid('a-1'))
  const idleAll = agents.map((n) => rssMiB(agentPid(n)))

  // Node added -> every agent routes its podCIDR.
  const samples: number[] = []
  for (let i = 0; i < (quick ? 2 : 5); i++) {
    const cidr = `10.99.${i}.0/24`
    const file = `${stateDir(LAB)}/bench/new-node-${i}.json`
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: `new-${i}`, annotations: { 'podlink.io/peer-id': newPeerId() } },
        spec: { podCIDR: cidr },
        status: { addresses: [{ type: 'InternalIP', address: `172.21.0.${i + 2}` }] },
      }),
    )
    kubectl(['apply', '-f', file])
    const written = performance.now()
    const seen = await waitFor(30_000, async () => {
      const views = await Promise.all(agents.map((n) => agentStatus(n)))
      return views.every((v) => v.routes.some((r) => r.cidr === cidr)) ? true : undefined
    })
    samples.push(seen ? Math.round(performance.now() - written) : Number.NaN)
  }
  const sorted = [...samples].sort((a, b) => a - b)
  log(`scale: Node added -> routes on all ${agents.length} agents: ${samples.join(', ')} ms`)

  // Open flows held through pub-1's agent (the exit) from every other site's node, at most 1,000 per source: the exit
  // refuses more than 1,024 concurrent flows from one peer (flow-handler maxFlowsPerPeer), so 8 peers carry 8,000.
  const sources = ['a-1', 'a-2', 'b-1', 'c-1', 'd-1', 's-1', 'u-1', 'f-1'].slice(0, quick ? 2 : 8)
  const perSource = 1000
  const holders = sources.map((src) => nsSpawn(src, [NODE, RR_LOAD, 'hold', '10.244.10.2:8080', String(perSource)]))
  const helds = await Promise.all(
    holders.map(
      (holder) =>
        new Promise<{ held: number; failed: number }>((resolve) => {
          let buf = ''
          holder.stdout?.on('data', (d: Buffer) => {
            buf += d.toString()
            if (buf.includes('\n')) resolve(JSON.parse(buf.split('\n')[0]!))
          })
          holder.on('exit', () => resolve({ held: 0, failed: perSource }))
        }),
    ),
  )
  const held = { held: helds.reduce((n, h) => n + h.held, 0), failed: helds.reduce((n, h) => n + h.failed, 0) }
  await sleep(2000)
  const rssWithFlowsMiB = { exit: rssMiB(agentPid('pub-1')), entryA1: rssMiB(agentPid('a-1')) }
  const exitIdle = idleAll[agents.indexOf('pub-1')] ?? Number.NaN
  log(
    `scale: ${held.held} open flows from ${sources.length} peers (${held.failed} failed): exit pub-1 ${rssWithFlowsMiB.exit} MiB (idle ${exitIdle}), entry a-1 ${rssWithFlowsMiB.entryA1} MiB`,
  )
  for (const h of holders) {
    h.stdin?.end()
    h.kill('SIGTERM')
  }
  await sleep(2000)

  // 1,000 simulated Nodes in the view.
  const simulated = quick ? 200 : 1000
  const list = { apiVersion: 'v1', kind: 'List', items: Array.from({ length: simulated }, (_, i) => simNode(i)) }
  const listFile = `${stateDir(LAB)}/bench/sim-nodes.json`
  writeFileSync(listFile, JSON.stringify(list))
  const tn = performance.now()
  kubectl(['apply', '-f', listFile])
  const routed = await waitFor(120_000, async () =>
    (await agentStatus('a-1')).routes.length >= simulated ? true : undefined,
  )
  const simulatedNodesRoutedAfterMs = routed ? Math.round(performance.now() - tn) : Number.NaN
  await sleep(5000)
  const rssWithSimulatedNodesMiB = rssMiB(agentPid('a-1'))
  const nodesAll = agents.map((n) => rssMiB(agentPid(n)))
  log(
    `scale: ${simulated} simulated Nodes routed by a-1 after ${simulatedNodesRoutedAfterMs} ms; a-1 RSS ${rssWithSimulatedNodesMiB} MiB`,
  )
  kubectl(['delete', '-f', listFile, '--wait=false'])

  return {
    startToReadyMs,
    startToDirectMs,
    nodeAddedToRoutesEverywhereMs: samples,
    nodeAddedToRoutesEverywhereMsP50: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN,
    agents: agents.length,
    rssIdleMiB,
    rssIdleAllAgentsMiB: { min: Math.min(...idleAll), max: Math.max(...idleAll) },
    flowsOpened: held.held,
    flowsFailed: held.failed,
    flowSources: sources.length,
    rssWithFlowsMiB,
    exitRssPerThousandFlowsMiB: Math.round(((rssWithFlowsMiB.exit - exitIdle) / held.held) * 1000 * 10) / 10,
    simulatedNodes: simulated,
    simulatedNodesRoutedAfterMs,
    rssWithSimulatedNodesMiB,
    rssWithNodesAllAgentsMiB: { min: Math.min(...nodesAll), max: Math.max(...nodesAll) },
  }
}
