// two-sites without agents: two sites with one LAN range and one node IP each; every host reaches its
// own site's 192.168.1.10, never the other's, and flannel (same-lan) connects pods within a site only.
import { type ChildProcess, spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { labCli, labUpOrThrow, probe, REPO, SHARED_TOPOLOGIES } from './lab-cli.ts'

const LAB = 'twosites'
const servers: ChildProcess[] = []

describe('two-sites with --no-agents', () => {
  beforeAll(async () => {
    labCli(['down', LAB])
    labUpOrThrow(`${SHARED_TOPOLOGIES}two-sites.yaml`)
    // An echo server on each of the two nodes that share 192.168.1.10, answering with its node's name.
    for (const node of ['a-1', 'b-1']) {
      const child = spawn(
        'ip',
        [
          'netns',
          'exec',
          `${LAB}.${node}`,
          process.execPath,
          `${REPO}packages/testlab/src/echo/echo-server.ts`,
          '--name',
          node,
          '--serve',
          'tcp/7000',
          '--serve',
          'udp/7001',
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      )
      servers.push(child)
      await new Promise<void>((resolve) =>
        child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()),
      )
    }
  })
  afterAll(() => {
    for (const s of servers) s.kill('SIGKILL')
    labCli(['down', LAB])
  })

  it('a host in site A that dials 192.168.1.10 reaches its own site node, never site B', () => {
    expect(probe(LAB, 'a-2', '192.168.1.10:7000', ['--count', '10'])).toMatchObject({
      ok: 10,
      responders: { 'a-1': 10 },
    })
    expect(probe(LAB, 'a-2', '192.168.1.10:7001', ['--udp', '--count', '10'])).toMatchObject({
      ok: 10,
      responders: { 'a-1': 10 },
    })
    expect(probe(LAB, 'cli-a', '192.168.1.10:7000', ['--count', '5'])).toMatchObject({
      ok: 5,
      responders: { 'a-1': 5 },
    })
    expect(probe(LAB, 'cli-b', '192.168.1.10:7000', ['--count', '5'])).toMatchObject({
      ok: 5,
      responders: { 'b-1': 5 },
    })
  })

  it('pods reach pods of their own site by pod IP, TCP and UDP', () => {
    expect(probe(LAB, 'cli-a', '10.244.1.2:8080', ['--count', '5'])).toMatchObject({
      ok: 5,
      responders: { 'api-a': 5 },
    })
    expect(probe(LAB, 'cli-a', '10.244.1.2:9000', ['--udp', '--count', '5'])).toMatchObject({
      ok: 5,
      responders: { 'api-a': 5 },
    })
    expect(probe(LAB, 'cli-b', '10.244.3.2:8080', ['--count', '5'])).toMatchObject({
      ok: 5,
      responders: { 'api-b': 5 },
    })
  })

  it('pods cannot reach pods on the other site or in the cloud', () => {
    for (const [from, to, udp] of [
      ['cli-a', '10.244.3.2:8080', false],
      ['cli-b', '10.244.1.2:8080', false],
      ['cli-a', '10.244.0.2:8080', false],
      ['api-0', '10.244.1.2:8080', false],
      ['cli-a', '10.244.3.2:9000', true],
    ] as const) {
      const r = probe(LAB, from, to, ['--timeout', '1000', ...(udp ? ['--udp'] : [])])
      expect(r.ok, `${from} -> ${to}`).toBe(0)
    }
  })
})
