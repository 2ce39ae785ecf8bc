// Issue 3 in the lab: every agent classes every pod CIDR (local / lan / mesh) by proof, not by IP;
// new Nodes reach every agent's routes quickly; an agent that restarts without the API routes from
// its cache and says so; conflicts become Events.
import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  agentCommand,
  agentSocketPath,
  readAgentStatus,
  startLabAgent,
} from '../../packages/testlab/src/lab/lab-agents.ts'
import { loadLabTopology } from '../../packages/testlab/src/lab/lab-status.ts'
import { labCli, labUpOrThrow, SHARED_TOPOLOGIES, waitFor } from './lab-cli.ts'

const LAB = 'twosites'
const NODES = ['cloud-1', 'a-1', 'a-2', 'b-1'] as const
const CIDRS = {
  'cloud-1': '10.244.0.0/24',
  'a-1': '10.244.1.0/24',
  'a-2': '10.244.2.0/24',
  'b-1': '10.244.3.0/24',
} as const
/** What each node must conclude about each node's pod CIDR: a-1 and a-2 share site A; b-1 has a-1's IP. */
const EXPECTED: Record<string, Record<string, string>> = {
  'cloud-1': { 'cloud-1': 'local', 'a-1': 'mesh', 'a-2': 'mesh', 'b-1': 'mesh' },
  'a-1': { 'cloud-1': 'mesh', 'a-1': 'local', 'a-2': 'lan', 'b-1': 'mesh' },
  'a-2': { 'cloud-1': 'mesh', 'a-1': 'lan', 'a-2': 'local', 'b-1': 'mesh' },
  'b-1': { 'cloud-1': 'mesh', 'a-1': 'mesh', 'a-2': 'mesh', 'b-1': 'local' },
}

interface Status {
  view: { synced: boolean; stale: boolean }
  routes: Array<{ cidr: string; class: string; node: string; reason: string }>
  conflicts: Array<{ kind: string; nodes: string[] }>
}
const status = (node: string): Promise<Status> => readAgentStatus(agentSocketPath(LAB, node)) as Promise<Status>

function classes(s: Status): Record<string, string> {
  return Object.fromEntries(
    Object.entries(CIDRS).map(([node, cidr]) => [node, s.routes.find((r) => r.cidr === cidr)?.class ?? 'absent']),
  )
}

describe('agents on two-sites', () => {
  beforeAll(() => {
    labCli(['down', LAB])
    labUpOrThrow(`${SHARED_TOPOLOGIES}two-sites.yaml`, [])
  })
  afterAll(() => {
    labCli(['down', LAB])
  })

  it('classes every pod CIDR right on every node, across overlapping LANs with duplicate node IPs', async () => {
    for (const node of NODES) {
      const { value } = await waitFor(`${node} classes`, 15_000, async () => {
        const s = await status(node)
        return JSON.stringify(classes(s)) === JSON.stringify(EXPECTED[node]) ? s : undefined
      })
      expect(value.view.synced).toBe(true)
      const lanRoute = value.routes.find((r) => r.class === 'lan')
      if (lanRoute) expect(lanRoute.reason).toMatch(/same LAN/)
    }
  })

  it('an agent classes every pod CIDR right within 5 s of its start', async () => {
    const t = loadLabTopology(LAB)
    const figures: string[] = []
    for (const node of NODES) {
      await agentCommand(t, node, 'stop')
      const started = performance.now()
      await startLabAgent(t, node)
      await waitFor(`${node} after restart`, 5000, async () => {
        const s = await status(node)
        return JSON.stringify(classes(s)) === JSON.stringify(EXPECTED[node]) ? s : undefined
      })
      figures.push(`${node} ${Math.round(performance.now() - started)} ms`)
    }
    console.log(`start -> every pod CIDR classed right: ${figures.join(', ')}`)
  })

  it("a Node added with kubectl is in every agent's routes within 2 s, and a podCIDR clash is a conflict and an Event", async () => {
    const manifest = JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: { name: 'edge-new' },
          spec: { podCIDR: '10.244.9.0/24', podCIDRs: ['10.244.9.0/24'] },
          status: { addresses: [{ type: 'InternalIP', address: '192.168.7.7' }] },
        },
      ],
    })
    const started = performance.now()
    const applied = labCliWithInput(['kubectl', '--lab', LAB, '--', 'apply', '-f', '-'], manifest)
    expect(applied.code, applied.stderr).toBe(0)
    const seen = await Promise.all(
      NODES.map((node) =>
        waitFor(`${node} sees edge-new`, 5000, async () =>
          (await status(node)).routes.some((r) => r.cidr === '10.244.9.0/24' && r.node === 'edge-new')
            ? true
            : undefined,
        ),
      ),
    )
    const ms = performance.now() - started
    console.log(
      `kubectl apply (incl. kubectl start) -> route on all 4 agents: ${Math.round(ms)} ms; per agent after apply returned: ${seen.map((s) => Math.round(s.ms)).join(', ')} ms`,
    )
    expect(ms).toBeLessThan(2000 + 1500) // kubectl itself takes ~1 s to start here; the agents' part is below
    for (const s of seen) expect(s.ms).toBeLessThan(2000)

    // Another node claiming a-1's podCIDR: never routed, reported everywhere, recorded as an Event.
    const clash = labCliWithInput(
      ['kubectl', '--lab', LAB, '--', 'apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: 'edge-clash' },
        spec: { podCIDR: '10.244.1.0/24' },
        status: { addresses: [{ type: 'InternalIP', address: '192.168.7.8' }] },
      }),
    )
    expect(clash.code, clash.stderr).toBe(0)
    for (const node of NODES) {
      await waitFor(`${node} reports the clash`, 5000, async () => {
        const s = await status(node)
        const route = s.routes.find((r) => r.cidr === '10.244.1.0/24')
        return route?.class === 'conflict' && s.conflicts.some((c) => c.kind === 'overlapping-pod-cidr')
          ? true
          : undefined
      })
    }
    await waitFor('PodCIDRConflict event', 10_000, async () => {
      const r = labCli(['kubectl', '--lab', LAB, '--', 'get', 'events', '-A', '-o', 'json'])
      const items = (JSON.parse(r.stdout) as { items: Array<{ reason: string; message: string }> }).items
      return items.some((e) => e.reason === 'PodCIDRConflict' && e.message.includes('10.244.1.0/24')) ? true : undefined
    })
    labCli(['kubectl', '--lab', LAB, '--', 'delete', 'node', 'edge-new', 'edge-clash'])
    for (const node of NODES) {
      await waitFor(`${node} withdraws edge-new`, 5000, async () => {
        const s = await status(node)
        return !s.routes.some((r) => r.node === 'edge-new') &&
          s.routes.find((r) => r.cidr === '10.244.1.0/24')?.class !== 'conflict'
          ? true
          : undefined
      })
    }
  })

  it('with the API stand-in stopped, a restarted agent routes from its cache and says the view is stale', async () => {
    const t = loadLabTopology(LAB)
    expect(labCli(['apiserver', '--lab', LAB, 'stop']).code).toBe(0)
    try {
      await agentCommand(t, 'a-2', 'restart')
      const { value: s } = await waitFor('a-2 routes from its cache', 5000, async () => {
        const st = await status('a-2')
        return JSON.stringify(classes(st)) === JSON.stringify(EXPECTED['a-2']) ? st : undefined
      })
      expect(s.view.stale).toBe(true)
      expect(s.view.synced).toBe(false)
      const routes = labCli(['exec', '--lab', LAB, 'a-2', '--', process.execPath, 'packages/cli/src/main.ts', 'status'])
      expect(routes.stdout).toMatch(/stale/i)
    } finally {
      expect(labCli(['apiserver', '--lab', LAB, 'start']).code).toBe(0)
    }
    await waitFor('a-2 fresh again', 40_000, async () =>
      (await status('a-2')).view.stale === false ? true : undefined,
    )
  })
})

function labCliWithInput(args: string[], input: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['packages/testlab/src/cli/main.ts', ...args], {
    input,
    encoding: 'utf8',
    cwd: new URL('../../', import.meta.url).pathname,
  })
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }
}
