// Issues 5 and 7 in the lab, through the agents: two cone-NATed sites end on a punched path, a
// symmetric-NAT site is relayed and says why, same-LAN peers never use a relay, the punched path
// survives the relay's death; and the operator's view (peers, trace, ping, metrics, kubectl podlink)
// shows it all, read from the output.
import { spawn, spawnSync } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { agentCommand, agentSocketPath, readAgentStatus } from '../../packages/testlab/src/lab/lab-agents.ts'
import { loadLabTopology } from '../../packages/testlab/src/lab/lab-status.ts'
import { labCli, labUpOrThrow, probe, REPO, TEST_TOPOLOGIES, waitFor } from './lab-cli.ts'

const LAB = 'threesites'
const POD = { 'web-0': '10.244.0.2', 'web-a': '10.244.1.2', 'web-b': '10.244.3.2', 'web-c': '10.244.4.2' } as const

interface Peer {
  node: string
  lan: boolean
  path: string
  relay: string | null
  reason: string | null
  txBytes: number
  rxBytes: number
}
const peers = async (node: string): Promise<Peer[]> =>
  ((await readAgentStatus(agentSocketPath(LAB, node))) as { peers: Peer[] }).peers
const podlink = (node: string, ...args: string[]) =>
  labCli(['exec', '--lab', LAB, node, '--', process.execPath, 'packages/cli/src/main.ts', ...args])

type Fast = {
  address: string
  flows: number
  failures: number
  ready: number
  lastError: string | null
  records?: 'sealed' | 'tls' | null
}

/**
 * 64 MiB echoed from pod `from` to pod `to` once `from.node` holds a ready fast socket to `to.node` (probes ask for
 * one until then); checks the bytes and returns that fast channel's status before and after.
 */
async function bulkOnFastChannel(
  from: { pod: 'web-a' | 'web-c'; node: string },
  to: { pod: 'web-a' | 'web-b'; node: string },
): Promise<{ before: Fast; after: Fast }> {
  const fastOf = async (): Promise<Fast | undefined> =>
    (
      (await readAgentStatus(agentSocketPath(LAB, from.node))) as { peers: Array<{ node: string; fast?: Fast | null }> }
    ).peers.find((p) => p.node === to.node)?.fast ?? undefined
  const { ms } = await waitFor(`${from.node} holds a fast socket to ${to.node}`, 15_000, async () => {
    probe(LAB, from.pod, `${POD[to.pod]}:8080`, ['--count', '1'])
    const f = await fastOf()
    if ((f?.ready ?? 0) > 0) return true
    throw new Error(`fast channel ${JSON.stringify(f ?? null)}`) // the reason, should this time out
  })
  const before = (await fastOf())!
  const bytes = 64 * 1024 ** 2
  const run = spawnSync(
    'ip',
    [
      ...['netns', 'exec', `${LAB}.${from.pod}`, process.execPath],
      ...[`${REPO}packages/testlab/src/load/bulk-check.ts`, 'integrity', `${POD[to.pod]}:8080`, String(bytes)],
    ],
    { encoding: 'utf8', timeout: 300_000 },
  )
  const r = JSON.parse((run.stdout ?? '').trim().split('\n').pop() || '{}') as Record<string, unknown>
  const after = (await fastOf())!
  console.log(
    `fast socket ${from.node} -> ${to.node} ready ${Math.round(ms)} ms after asking; 64 MiB ${from.pod} -> ${to.pod} and back: ${JSON.stringify(r)}; fast channel ${JSON.stringify(before)} -> ${JSON.stringify(after)}`,
  )
  expect(r).toMatchObject({ ok: true, bytes })
  // Both agents have the native relay: the fast sockets left TLS for sealed records, whatever the path.
  expect(after.records).toBe('sealed')
  return { before, after }
}

describe('the mesh through the agents on three sites (cone, cone, symmetric, public relay)', () => {
  beforeAll(() => {
    labCli(['down', LAB])
    labUpOrThrow(`${TEST_TOPOLOGIES}three-sites.yaml`, [])
  })
  afterAll(() => {
    labCli(['down', LAB])
  })

  it('every pair of sites with traffic has a working path within 5 s of start', () => {
    const firsts: string[] = []
    for (const [from, to] of [
      ['cli-a', 'web-b'],
      ['cli-a', 'web-c'],
      ['cli-a', 'web-0'],
      ['web-b', 'web-a'],
      ['web-c', 'web-b'],
      ['web-0', 'web-c'],
    ] as const) {
      // The first connection's time to first byte includes finding and making the path (relay, dial-back, punch).
      const r = probe(LAB, from, `${POD[to]}:8080`, ['--timeout', '5000'])
      expect(r, `${from} -> ${to}`).toMatchObject({ ok: 1, responders: { [to]: 1 } })
      const rtt = (r.results[0] as { rttMs?: number }).rttMs ?? Number.NaN
      expect(rtt, `${from} -> ${to}`).toBeLessThan(5000)
      firsts.push(`${from}->${to} ${Math.round(rtt)} ms`)
    }
    console.log(`first flow on a new path, time to first byte: ${firsts.join(', ')}`)
  })

  it('two cone-NATed sites end on a punched path within 3 s of the first flow', async () => {
    expect(probe(LAB, 'web-a', `${POD['web-b']}:8080`)).toMatchObject({ ok: 1 })
    const { ms } = await waitFor('a-1 punched to b-1', 3000, async () =>
      (await peers('a-1')).find((p) => p.node === 'b-1')?.path === 'punched' ? true : undefined,
    )
    console.log(`a-1 -> b-1 punched ${Math.round(ms)} ms after the first flow completed`)
    expect((await peers('b-1')).find((p) => p.node === 'a-1')?.path).toBe('punched')
  })

  it('a TCP flow to the punched peer goes on a fast socket punched for it: 64 MiB byte-identical', async () => {
    // A flow to b-1 asks for the channel; the pool punches sockets over the punched connection in the background.
    const { before, after } = await bulkOnFastChannel({ pod: 'web-a', node: 'a-1' }, { pod: 'web-b', node: 'b-1' })
    expect(after.address).toMatch(/\(punched\)$/)
    expect(after.flows).toBeGreaterThan(before.flows)
    expect(after.failures, `refills failing: ${after.lastError}`).toBe(0)
  })

  it('a TCP flow to a relayed peer goes on a fast socket joined at the relay, TLS end to end: 64 MiB byte-identical', async () => {
    const { before, after } = await bulkOnFastChannel({ pod: 'web-c', node: 'c-1' }, { pod: 'web-a', node: 'a-1' })
    expect(after.address).toMatch(/\(relay\)$/)
    expect(after.flows).toBeGreaterThan(before.flows)
    expect(after.failures, `refills failing: ${after.lastError}`).toBe(0)
    expect((await peers('c-1')).find((p) => p.node === 'a-1')?.path).toBe('relay')
  })

  it('a symmetric-NAT site reaches every other site through the relay, 100 of 100, and says why', async () => {
    for (const to of ['web-a', 'web-b', 'web-0'] as const) {
      expect(probe(LAB, 'web-c', `${POD[to]}:8080`, ['--count', '100', '--timeout', '3000'])).toMatchObject({
        ok: 100,
        responders: { [to]: 100 },
      })
    }
    const c = await peers('c-1')
    for (const node of ['a-1', 'b-1']) {
      const p = c.find((x) => x.node === node)
      expect(p, node).toMatchObject({ path: 'relay', relay: 'cloud-1' })
      expect(p?.reason).toMatch(/symmetric NAT/)
    }
    const table = podlink('c-1', 'peers')
    expect(table.stdout).toMatch(/a-1\s.*relay via cloud-1.*symmetric NAT/)
    expect(podlink('a-1', 'peers').stdout).toMatch(/b-1\s.*punched/)
  })

  it('same-LAN peers never use a relay', async () => {
    expect(probe(LAB, 'cli-a', `${POD['web-a']}:8080`, ['--count', '20'])).toMatchObject({ ok: 20 })
    const a2 = (await peers('a-2')).find((p) => p.node === 'a-1')
    expect(a2).toMatchObject({ lan: true, path: 'lan', relay: null, txBytes: 0, rxBytes: 0 })
  })

  it('trace says why: a same-LAN pod is not captured, an off-LAN one names its peer and path', () => {
    const lanTrace = podlink('a-1', 'trace', `${'10.244.2.2'}:8080`)
    expect(lanTrace.stdout).toMatch(/not captured/)
    expect(lanTrace.stdout).toMatch(/same LAN as a-2/)
    const meshTrace = podlink('a-1', 'trace', `${POD['web-b']}:8080`)
    expect(meshTrace.stdout).toMatch(/captured by redirect/)
    expect(meshTrace.stdout).toMatch(/b-1\s+mesh\s+punched/)
    const json = JSON.parse(podlink('a-1', 'trace', `${POD['web-b']}:8080`, '--json').stdout) as {
      capture: { captured: boolean }
    }
    expect(json.capture.captured).toBe(true)
  })

  it("doctor checks a lab node's real kernel, iptables, ipset, PSK and agent, and names what breaks", () => {
    type Check = { id: string; level: string; detail: string; fix?: string }
    const run = (...extra: string[]) => {
      const r = podlink('a-1', 'doctor', '--json', ...extra)
      return { code: r.code, checks: JSON.parse(r.stdout) as Check[], stderr: r.stderr }
    }
    const good = run()
    const by = (checks: Check[], id: string) => checks.find((c) => c.id === id)
    expect(good.code, JSON.stringify(good.checks.filter((c) => c.level === 'fail'))).toBe(0)
    for (const id of ['agent', 'iptables', 'ipset', 'redirect', 'conntrack-netlink', 'xt-set', 'marks', 'psk'])
      expect(by(good.checks, id)?.level, id).toBe('ok')
    expect(by(good.checks, 'iptables')?.detail).toMatch(/iptables is nft/)
    // A PSK readable by others is a failure with its fix; the agent's own file is left alone.
    const loose = `/tmp/podlink-doctor-${process.pid}.key`
    writeFileSync(loose, 'not a key', { mode: 0o644 })
    try {
      const bad = run('--psk-file', loose)
      expect(bad.code).toBe(1)
      expect(by(bad.checks, 'psk')).toMatchObject({ level: 'fail', fix: expect.stringMatching(/chmod 0600/) })
    } finally {
      rmSync(loose, { force: true })
    }
  })

  it('ping reports RTT over the mesh and the path taken', () => {
    const r = podlink('a-1', 'ping', 'b-1', '--count', '3')
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/seq=1 path=punched/)
    expect(r.stdout).toMatch(/3 probes sent, 3 received, 0% loss/)
  })

  it('metrics parse as Prometheus text and the byte counters move with traffic; readyz is ok', () => {
    const scrape = () =>
      labCli(['exec', '--lab', LAB, 'c-1', '--', 'curl', '-sf', 'http://127.0.0.1:9464/metrics']).stdout
    const bytesTo = (text: string, peer: string): number =>
      text
        .split('\n')
        .filter((l) => l.startsWith(`podlink_peer_bytes_total{peer="${peer}"`))
        .reduce((n, l) => n + Number(l.split(' ').pop()), 0)
    const before = scrape()
    for (const line of before.split('\n')) {
      if (line === '' || line.startsWith('#')) continue
      expect(line, 'a sample line').toMatch(
        /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? -?[0-9.eE+-]+$|^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? (NaN|\+Inf|-Inf)$/,
      )
    }
    expect(probe(LAB, 'web-c', `${POD['web-a']}:8080`, ['--count', '20'])).toMatchObject({ ok: 20 })
    const after = scrape()
    expect(bytesTo(after, 'a-1')).toBeGreaterThan(bytesTo(before, 'a-1'))
    expect(after).toMatch(/^podlink_captured_connections_total\{class="pod",protocol="tcp"\} [1-9]/m)
    expect(after).toMatch(/^podlink_peer_rtt_seconds_count [1-9]/m)
    expect(after).toMatch(/^podlink_rule_sync_duration_seconds_count [1-9]/m)
    // c-1 is behind a symmetric NAT: it never punches; the punch that made a-x <-> b-1 is counted where it ran.
    const punches = ['a-1', 'a-2', 'b-1'].map(
      (n) => labCli(['exec', '--lab', LAB, n, '--', 'curl', '-sf', 'http://127.0.0.1:9464/metrics']).stdout,
    )
    expect(
      punches.some((m) => /^podlink_holepunch_results_total\{result="success",reason="none"\} [1-9]/m.test(m)),
    ).toBe(true)
    expect(
      labCli(['exec', '--lab', LAB, 'c-1', '--', 'curl', '-sf', 'http://127.0.0.1:9464/readyz']).stdout.trim(),
    ).toBe('ok')
  })

  it('kubectl podlink peers works through kubectl', () => {
    const env = `PATH=${REPO}packages/cli/bin:${process.env.PATH}`
    const r = labCli(['exec', '--lab', LAB, 'a-1', '--', 'env', env, 'kubectl', 'podlink', 'peers'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/NODE\s+LAN\s+PEER\s+PATH/)
    expect(r.stdout).toMatch(/b-1\s.*punched/)
  })

  it('killing the relay keeps the punched path: flows during and after the kill all succeed', async () => {
    const t = loadLabTopology(LAB)
    // A probe loop runs across the relay's death: every one of its connections must succeed.
    const loop = spawn(
      process.execPath,
      [
        `${REPO}packages/testlab/src/cli/main.ts`,
        'probe',
        '--lab',
        LAB,
        'web-a',
        `${POD['web-b']}:8080`,
        '--count',
        '30',
        '--interval',
        '200',
        '--json',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    loop.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    const looped = new Promise<void>((resolve) => loop.on('exit', () => resolve()))
    await new Promise((r) => setTimeout(r, 1500))
    await agentCommand(t, 'cloud-1', 'kill')
    try {
      await looped
      expect(JSON.parse(out.trim().split('\n').pop() ?? '{}')).toMatchObject({ sent: 30, ok: 30 })
      expect(probe(LAB, 'web-a', `${POD['web-b']}:8080`, ['--count', '20', '--timeout', '3000'])).toMatchObject({
        ok: 20,
      })
      expect(probe(LAB, 'web-b', `${POD['web-a']}:8080`, ['--count', '20', '--timeout', '3000'])).toMatchObject({
        ok: 20,
      })
      expect((await peers('a-1')).find((p) => p.node === 'b-1')?.path).toBe('punched')
    } finally {
      await agentCommand(t, 'cloud-1', 'start')
    }
  })
})
