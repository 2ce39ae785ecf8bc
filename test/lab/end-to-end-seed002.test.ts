// Issue 6 on seed-002 with agents: every pod reaches every other pod by pod IP and through the
// ClusterIP across the NAT; the same-LAN pair never touches the mesh and works with the agents stopped;
// host processes reach off-LAN pods and Services too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { agentCommand, agentSocketPath, readAgentStatus } from '../../packages/testlab/src/lab/lab-agents.ts'
import { loadLabTopology } from '../../packages/testlab/src/lab/lab-status.ts'
import { labCli, labUpOrThrow, probe, SHARED_TOPOLOGIES } from './lab-cli.ts'

const LAB = 'seed002'
const PODS = { 'nginx-0': '10.244.0.2', 'nginx-1': '10.244.1.2', 'nginx-2': '10.244.2.2' } as const
const CLUSTER_IP = '10.96.0.80:80'

interface Peer {
  node: string
  lan: boolean
  path: string
  txBytes: number
  rxBytes: number
}

describe('seed-002 with podlink agents', () => {
  beforeAll(() => {
    labCli(['down', LAB])
    labUpOrThrow(`${SHARED_TOPOLOGIES}seed-002.yaml`, [])
  })
  afterAll(() => {
    labCli(['down', LAB])
  })

  it('every pod reaches every other pod by pod IP, 100 of 100, across the NAT both ways', () => {
    for (const [from] of Object.entries(PODS)) {
      for (const [to, ip] of Object.entries(PODS)) {
        if (from === to) continue
        const r = probe(LAB, from, `${ip}:80`, ['--count', '100', '--timeout', '3000'])
        expect(r, `${from} -> ${to}`).toMatchObject({ sent: 100, ok: 100, responders: { [to]: 100 } })
      }
    }
  })

  it('every pod reaches the nginx ClusterIP, 100 of 100', () => {
    for (const from of Object.keys(PODS)) {
      const r = probe(LAB, from, CLUSTER_IP, ['--count', '100', '--timeout', '3000'])
      expect(r, from).toMatchObject({ sent: 100, ok: 100 })
    }
  })

  it('host processes on a node reach off-LAN pods and the ClusterIP', () => {
    expect(probe(LAB, 'node1', '10.244.0.2:80', ['--count', '20'])).toMatchObject({
      ok: 20,
      responders: { 'nginx-0': 20 },
    })
    expect(probe(LAB, 'master', '10.244.2.2:80', ['--count', '20'])).toMatchObject({
      ok: 20,
      responders: { 'nginx-2': 20 },
    })
    expect(probe(LAB, 'node2', CLUSTER_IP, ['--count', '20'])).toMatchObject({ ok: 20 })
  })

  it('the same-LAN pair moves zero bytes through the mesh, and keeps working with the agents stopped', async () => {
    for (const [node, other] of [
      ['node1', 'node2'],
      ['node2', 'node1'],
    ] as const) {
      const s = (await readAgentStatus(agentSocketPath(LAB, node))) as { peers: Peer[] }
      const peer = s.peers.find((p) => p.node === other)
      expect(peer, `${node} sees ${other}`).toMatchObject({ lan: true, path: 'lan', txBytes: 0, rxBytes: 0 })
      // The off-LAN peer did carry the traffic above.
      const master = s.peers.find((p) => p.node === 'master')
      expect((master?.txBytes ?? 0) + (master?.rxBytes ?? 0)).toBeGreaterThan(0)
    }
    const t = loadLabTopology(LAB)
    await agentCommand(t, 'node1', 'stop')
    await agentCommand(t, 'node2', 'stop')
    try {
      expect(probe(LAB, 'nginx-1', '10.244.2.2:80', ['--count', '50'])).toMatchObject({
        ok: 50,
        responders: { 'nginx-2': 50 },
      })
      expect(probe(LAB, 'nginx-2', '10.244.1.2:80', ['--count', '50'])).toMatchObject({
        ok: 50,
        responders: { 'nginx-1': 50 },
      })
    } finally {
      await agentCommand(t, 'node1', 'start')
      await agentCommand(t, 'node2', 'start')
    }
  })
})
