// seed-002 without agents: flannel delivers inside the edge LAN, and the cloud and the edge cannot
// reach each other's pods: the failure podlink exists to fix, reproduced with flannel on every node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { labCli, labUpOrThrow, probe, SHARED_TOPOLOGIES } from './lab-cli.ts'

const LAB = 'seed002'

describe('seed-002 with --no-agents', () => {
  beforeAll(() => {
    labCli(['down', LAB])
    labUpOrThrow(`${SHARED_TOPOLOGIES}seed-002.yaml`)
  })
  afterAll(() => {
    labCli(['down', LAB])
  })

  it('edge pods reach each other by pod IP over the emulated flannel', () => {
    const a = probe(LAB, 'nginx-1', '10.244.2.2:80', ['--count', '5'])
    expect(a).toMatchObject({ ok: 5, failed: 0, responders: { 'nginx-2': 5 } })
    const b = probe(LAB, 'nginx-2', '10.244.1.2:80', ['--count', '5'])
    expect(b).toMatchObject({ ok: 5, failed: 0, responders: { 'nginx-1': 5 } })
  })

  it('the cloud pod and the edge pods cannot reach each other, though flannel programs every node', () => {
    for (const [from, to] of [
      ['nginx-0', '10.244.1.2:80'],
      ['nginx-0', '10.244.2.2:80'],
      ['nginx-1', '10.244.0.2:80'],
      ['nginx-2', '10.244.0.2:80'],
    ] as const) {
      const r = probe(LAB, from, to, ['--timeout', '1500'])
      expect(r.ok, `${from} -> ${to}`).toBe(0)
    }
    // The emulation is flannel's, not an absence of routes: master has a VXLAN route to the edge podCIDRs.
    const routes = labCli(['exec', '--lab', LAB, 'master', '--', 'ip', 'route'])
    expect(routes.stdout).toMatch(/10\.244\.1\.0\/24 via 10\.244\.1\.0 dev flannel\.1 onlink/)
    const fdb = labCli(['exec', '--lab', LAB, 'master', '--', 'bridge', 'fdb', 'show', 'dev', 'flannel.1'])
    expect(fdb.stdout).toMatch(/dst 192\.168\.1\.11/)
  })

  it('serves the cluster through kubectl against the API stand-in', () => {
    const r = labCli(['kubectl', '--lab', LAB, '--', 'get', 'nodes', '-o', 'wide'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/master\s/)
    expect(r.stdout).toMatch(/node1\s.*192\.168\.1\.11/)
    const slices = labCli(['kubectl', '--lab', LAB, '--', 'get', 'endpointslices', '-o', 'json'])
    const addresses = (
      JSON.parse(slices.stdout) as { items: Array<{ endpoints: Array<{ addresses: string[] }> }> }
    ).items
      .flatMap((s) => s.endpoints.flatMap((e) => e.addresses))
      .sort()
    expect(addresses).toEqual(['10.244.0.2', '10.244.1.2', '10.244.2.2'])
  })

  it('status lists every host with its addresses', () => {
    const r = labCli(['status', '--lab', LAB, '--json'])
    const s = JSON.parse(r.stdout) as { hosts: Array<{ name: string; up: boolean; addresses: string[] }> }
    expect(s.hosts.map((h) => h.name).sort()).toEqual([
      'apiserver',
      'gw-cloud',
      'gw-edge',
      'master',
      'nginx-0',
      'nginx-1',
      'nginx-2',
      'node1',
      'node2',
    ])
    expect(s.hosts.every((h) => h.up)).toBe(true)
    expect(s.hosts.find((h) => h.name === 'gw-edge')?.addresses).toEqual(
      expect.arrayContaining(['wan 203.0.113.21/24', 'lan 192.168.1.1/24']),
    )
  })
})
