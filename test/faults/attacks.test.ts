// Issue 9, attacks and bad input against a real agent in the lab: rogue libp2p peers (wrong PSK, on no Node, on a
// Node of their own asking for forbidden exits, fuzzing headers and frames, slow-loris, a flood of flows), bad Nodes
// (garbage podCIDR and annotation, a stolen peer ID), loose key files and a malformed config. Each is refused and
// counted; the agent keeps routing. Unit tests cover the codecs (flow-fuzz, flow-handler), the gater and the PSK
// (create-tunnel-node), key modes (key-files) and podCIDR conflicts (compute-routing, test/lab/agent-view).
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { agentSocketPath, readAgentStatus } from '../../packages/testlab/src/lab/lab-agents.ts'
import { kubeconfigPath } from '../../packages/testlab/src/lab/lab-apiserver.ts'
import { labCli, labUpOrThrow, probe, REPO, TEST_TOPOLOGIES } from '../lab/lab-cli.ts'
import { waitFor } from './fault-harness.ts'

const LAB = 'faultsatk'
const STATE = `/run/podlink-lab/${LAB}`
const RELAY_IP = '10.0.8.10'
/** The agents' mesh.fastPort (the default). */
const FAST_PORT = 4004
const POD = { 'web-r1': '10.244.0.2', 'web-a': '10.244.1.2' } as const

interface Status {
  peerId: string
  routes: Array<{ cidr: string; class: string; node: string }>
  conflicts: Array<{ kind: string; nodes: string[]; cidr?: string; reason: string }>
}
const status = (node: string): Promise<Status> => readAgentStatus(agentSocketPath(LAB, node)) as Promise<Status>

function inNs(host: string, argv: readonly string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', `${LAB}.${host}`, ...argv], {
    encoding: 'utf8',
    timeout: 150_000,
    ...(input === undefined ? {} : { input }),
  })
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }
}
const kubectl = (args: readonly string[], input?: string) => {
  const r = spawnSync(
    process.execPath,
    [`${REPO}packages/testlab/src/cli/main.ts`, 'kubectl', '--lab', LAB, '--', ...args],
    {
      encoding: 'utf8',
      cwd: REPO,
      timeout: 60_000,
      ...(input === undefined ? {} : { input }),
    },
  )
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }
}
function metrics(node: string): string {
  return inNs(node, ['curl', '-sf', 'http://127.0.0.1:9464/metrics']).stdout
}
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}
const agentPid = (node: string): number => Number(readFileSync(`${STATE}/pids/agent-${node}.pid`, 'utf8').trim())
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? 0) / 1024
}
/**
 * The agent's memory after two full garbage collections (MiB): what it retains. SIGUSR1 opens its inspector, on
 * 127.0.0.1:9229 in the node's own namespace; agent-memory.ts asks it to collect and reports process.memoryUsage().
 */
function retainedMiB(node: string): { rss: number; heapUsed: number } {
  process.kill(agentPid(node), 'SIGUSR1')
  const r = inNs(node, [process.execPath, `${REPO}test/faults/agent-memory.ts`])
  if (r.code !== 0) throw new Error(`agent-memory on ${node} failed (${r.code}): ${r.stderr}`)
  return JSON.parse(r.stdout) as { rss: number; heapUsed: number }
}

interface Rogue {
  readonly peerId: string
  call<T = Record<string, unknown>>(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>
  stop(): void
}

/** A rogue libp2p peer on the API stand-in's host (on the internet), holding `pskFile` and a key of its own. */
async function startRogue(pskFile: string, members: string[]): Promise<Rogue> {
  const dir = mkdtempSync('/tmp/podlink-rogue-')
  const child: ChildProcessWithoutNullStreams = spawn(
    'ip',
    [
      'netns',
      'exec',
      `${LAB}.apiserver`,
      process.execPath,
      `${REPO}packages/tunnel/src/testing/rogue-peer.ts`,
      JSON.stringify({ keyFile: `${dir}/identity.key`, pskFile, members }),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  )
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000)
  })
  const waiting = new Map<number, (v: Record<string, unknown>) => void>()
  let started: ((id: string) => void) | null = null
  const peerId = new Promise<string>((resolve, reject) => {
    started = resolve
    child.on('exit', (code) => reject(new Error(`rogue exited (${code}): ${stderr}`)))
  })
  createInterface({ input: child.stdout }).on('line', (line) => {
    const msg = JSON.parse(line) as Record<string, unknown>
    if (typeof msg.peerId === 'string') started?.(msg.peerId)
    else if (typeof msg.id === 'number') {
      waiting.get(msg.id)?.(msg)
      waiting.delete(msg.id)
    }
  })
  let next = 1
  return {
    peerId: await peerId,
    call: <T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 60_000) =>
      new Promise<T>((resolve, reject) => {
        const id = next++
        const timer = setTimeout(() => reject(new Error(`rogue: ${cmd} timed out`)), timeoutMs)
        waiting.set(id, (v) => {
          clearTimeout(timer)
          resolve(v as T)
        })
        child.stdin.write(`${JSON.stringify({ id, cmd, ...args })}\n`)
      }),
    stop: () => child.kill('SIGKILL'),
  }
}

describe('attacks and bad input against a real agent (issue 9)', () => {
  let relayPeer = ''
  let relayAddr = ''
  const rogues: Rogue[] = []
  const labPsk = `${STATE}/psk/swarm.key`

  beforeAll(async () => {
    labCli(['down', LAB])
    labUpOrThrow(`${TEST_TOPOLOGIES}faults-attacks.yaml`, [])
    relayPeer = (await status('relay-1')).peerId
    relayAddr = `/ip4/${RELAY_IP}/tcp/4001/p2p/${relayPeer}`
    expect(probe(LAB, 'web-a', `${POD['web-r1']}:8080`, ['--timeout', '5000'])).toMatchObject({ ok: 1 })
  }, 180_000)
  afterAll(() => {
    for (const r of rogues) r.stop()
    labCli(['down', LAB])
  })

  it('a peer with the wrong PSK is shut out before any stream, and counted', async () => {
    const dir = mkdtempSync('/tmp/podlink-wrongpsk-')
    writeFileSync(`${dir}/swarm.key`, `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}\n`, {
      mode: 0o600,
    })
    const rogue = await startRogue(`${dir}/swarm.key`, [relayPeer])
    rogues.push(rogue)
    const before = sample(metrics('relay-1'), 'podlink_peer_refusals_total{reason="wrong-psk"}')
    const r = await rogue.call('dial', { addr: relayAddr })
    expect(r.ok, JSON.stringify(r)).toBe(false)
    await waitFor('wrong-psk counted', 10_000, () =>
      sample(metrics('relay-1'), 'podlink_peer_refusals_total{reason="wrong-psk"}') > before ? true : undefined,
    )
  })

  it('on the fast port too: a wrong PSK and a peer on no Node are shut out, and counted', async () => {
    const dir = mkdtempSync('/tmp/podlink-wrongpsk-fast-')
    writeFileSync(`${dir}/swarm.key`, `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}\n`, {
      mode: 0o600,
    })
    const wrongKey = await startRogue(`${dir}/swarm.key`, [relayPeer])
    const stranger = await startRogue(labPsk, [relayPeer])
    rogues.push(wrongKey, stranger)
    const count = (reason: string) => sample(metrics('relay-1'), `podlink_peer_refusals_total{reason="${reason}"}`)
    const before = { psk: count('wrong-psk'), member: count('not-a-member') }
    const target = { host: RELAY_IP, port: FAST_PORT, peer: relayPeer }
    const a = await wrongKey.call('fast', target)
    expect(a, JSON.stringify(a)).toMatchObject({ ok: false, stage: 'dial' })
    expect(String(a.reason)).toMatch(/swarm key/)
    const b = await stranger.call('fast', target)
    expect(b, JSON.stringify(b)).toMatchObject({ ok: false, stage: 'dial' })
    expect(String(b.reason)).toMatch(/on none of its Nodes/)
    await waitFor('fast refusals counted', 10_000, () =>
      count('wrong-psk') > before.psk && count('not-a-member') > before.member ? true : undefined,
    )
  })

  it('a valid libp2p peer on no Node is refused, and counted', async () => {
    const rogue = await startRogue(labPsk, [relayPeer])
    rogues.push(rogue)
    const before = sample(metrics('relay-1'), 'podlink_peer_refusals_total{reason="not-a-member"}')
    const r = await rogue.call('dial', { addr: relayAddr })
    expect(r.ok, JSON.stringify(r)).toBe(false)
    await waitFor('not-a-member counted', 10_000, () =>
      sample(metrics('relay-1'), 'podlink_peer_refusals_total{reason="not-a-member"}') > before ? true : undefined,
    )
  })

  describe('a member peer (on a Node of its own) that misbehaves', () => {
    let rogue: Rogue
    beforeAll(async () => {
      rogue = await startRogue(labPsk, [relayPeer])
      rogues.push(rogue)
      const applied = kubectl(
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Node',
          metadata: { name: 'rogue-1', annotations: { 'podlink.io/peer-id': rogue.peerId } },
          spec: { podCIDR: '10.244.7.0/24' },
          status: { addresses: [{ type: 'InternalIP', address: '203.0.113.2' }] },
        }),
      )
      expect(applied.code, applied.stderr).toBe(0)
      await waitFor('relay-1 admits rogue-1', 15_000, async () =>
        (await status('relay-1')).routes.some((r) => r.node === 'rogue-1') ? true : undefined,
      )
      // Control: a flow to relay-1's own pod is admitted, so the refusals below are policy, not a broken peer.
      const { value } = await waitFor('rogue-1 flows admitted', 15_000, async () => {
        const ok = await rogue.call<{ ok: boolean }>('flow', {
          addr: relayAddr,
          header: {
            protocol: 'tcp',
            dst: { ip: POD['web-r1'], port: 8080 },
            src: null,
            service: false,
            serviceKey: '',
          },
        })
        return ok.ok ? ok : undefined
      })
      expect(value.ok).toBe(true)
    }, 60_000)
    afterAll(() => {
      kubectl(['delete', 'node', 'rogue-1'])
    })

    it("exits to the node's own address, 169.254.169.254, loopback or a pod outside its podCIDR: each refused and counted", async () => {
      const before = metrics('relay-1')
      const cases = [
        [RELAY_IP, 9464, 'forbidden-destination'],
        ['169.254.169.254', 80, 'forbidden-destination'],
        ['127.0.0.1', 9464, 'forbidden-destination'],
        [POD['web-a'], 8080, 'not-my-pod'],
      ] as const
      for (const [ip, port, reason] of cases) {
        const r = await rogue.call('flow', {
          addr: relayAddr,
          header: { protocol: 'tcp', dst: { ip, port }, src: null, service: false, serviceKey: '' },
        })
        expect(r, `${ip}:${port}`).toMatchObject({ ok: false, reason })
      }
      const after = metrics('relay-1')
      const delta = (reason: string) =>
        sample(after, `podlink_exit_refusals_total{reason="${reason}"}`) -
        sample(before, `podlink_exit_refusals_total{reason="${reason}"}`)
      expect(delta('forbidden-destination')).toBe(3)
      expect(delta('not-my-pod')).toBe(1)
      console.log(`exit refusals counted on relay-1: forbidden-destination +3, not-my-pod +1`)
    })

    it('the same exits asked on the fast channel: admitted as a member, each refused and counted', async () => {
      const before = metrics('relay-1')
      const cases = [
        ['169.254.169.254', 80, 'forbidden-destination'],
        [POD['web-a'], 8080, 'not-my-pod'],
        [POD['web-r1'], 8080, null],
      ] as const
      for (const [ip, port, reason] of cases) {
        const r = await rogue.call('fast', {
          host: RELAY_IP,
          port: FAST_PORT,
          peer: relayPeer,
          header: { protocol: 'tcp', dst: { ip, port }, src: null, service: false, serviceKey: '' },
        })
        expect(r, `${ip}:${port}`).toMatchObject(reason === null ? { ok: true } : { ok: false, reason, stage: 'flow' })
      }
      const after = metrics('relay-1')
      const delta = (reason: string) =>
        sample(after, `podlink_exit_refusals_total{reason="${reason}"}`) -
        sample(before, `podlink_exit_refusals_total{reason="${reason}"}`)
      expect(delta('forbidden-destination')).toBe(1)
      expect(delta('not-my-pod')).toBe(1)
    })

    it('fuzzed and oversized flow headers and UDP frames: each answered or closed, no crash, memory bounded', async () => {
      const pid = agentPid('relay-1')
      const rssBefore = rssMiB(pid)
      const valid = '000c010600040af400021f900000' // v1, tcp, dst 10.244.0.2:8080, no source, no key
      const hexes: string[] = []
      for (let i = 0; i < 300; i++) hexes.push(randomBytes(Math.floor(Math.random() * 300)).toString('hex'))
      for (let i = 0; i < 200; i++) {
        const b = Buffer.from(valid, 'hex')
        b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256)
        hexes.push(b.toString('hex'))
      }
      // Oversized: a length prefix far past the 256-byte bound, then 1 MiB of bytes behind it.
      hexes.push(`ffff01${randomBytes(1 << 20).toString('hex')}`)
      const fuzz = await rogue.call<{ sent: number; byVerdict: Record<string, number> }>(
        'raw',
        { addr: relayAddr, hexes, holdMs: 8000 },
        180_000,
      )
      console.log(`fuzzed headers: ${JSON.stringify(fuzz)}`)
      expect(fuzz.sent).toBe(hexes.length)
      // Garbage after a valid UDP header: frames with wrong lengths, and one announcing more than a datagram holds.
      const udpHeader = {
        protocol: 'udp',
        dst: { ip: POD['web-r1'], port: 9000 },
        src: null,
        service: false,
        serviceKey: '',
      }
      for (const hex of [randomBytes(4096).toString('hex'), `ffff${randomBytes(70_000).toString('hex')}`]) {
        const r = await rogue.call('frames', { addr: relayAddr, header: udpHeader, hex, holdMs: 5000 })
        expect(r.verdict, JSON.stringify(r)).not.toBe('no response')
      }
      expect(agentPid('relay-1')).toBe(pid)
      const rssAfter = rssMiB(pid)
      console.log(`relay-1 agent RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MiB across the fuzz`)
      expect(rssAfter - rssBefore).toBeLessThan(64)
      expect(probe(LAB, 'web-a', `${POD['web-r1']}:8080`, ['--count', '5', '--timeout', '3000'])).toMatchObject({
        ok: 5,
      })
    })

    it('slow-loris streams and a flood of flows from one peer: header timeout, bounded, others unaffected', async () => {
      const pid = agentPid('relay-1')
      const retainedBefore = retainedMiB('relay-1')
      const rssBefore = rssMiB(pid)
      const refusedBefore = sample(metrics('relay-1'), 'podlink_exit_refusals_total{reason="too-many-flows"}')
      const flood = rogue.call<{
        opened: number
        byVerdict: Record<string, number>
        fastest: Record<string, number>
        slowest: Record<string, number>
      }>('silent', { addr: relayAddr, count: 1100, holdMs: 30_000 }, 180_000)
      // While the flood holds its streams, another site's flows to relay-1 go through.
      await new Promise((r) => setTimeout(r, 1000))
      const others = probe(LAB, 'web-a', `${POD['web-r1']}:8080`, ['--count', '10', '--timeout', '3000'])
      const r = await flood
      console.log(`flood of 1100 silent flow streams from one peer: ${JSON.stringify(r)}; others: ${others.ok}/10 ok`)
      expect(others.ok).toBe(10)
      // Every stream opened on the one connection (the muxer carries more than the per-peer limit), so the flood
      // passes the limit: every stream is answered, none admitted: too-many-flows at once past the per-peer limit
      // (1024), header-timeout for the others once 5 s passed without a header.
      expect(r.opened, JSON.stringify(r)).toBe(1100)
      expect((r.byVerdict['too-many-flows'] ?? 0) + (r.byVerdict['header-timeout'] ?? 0)).toBe(r.opened)
      expect(r.byVerdict['too-many-flows'] ?? 0).toBeGreaterThanOrEqual(r.opened - 1024)
      // Each refusal is counted where an operator sees it.
      const refused = sample(metrics('relay-1'), 'podlink_exit_refusals_total{reason="too-many-flows"}') - refusedBefore
      expect(refused).toBe(r.byVerdict['too-many-flows'])
      // The header timeout (5 s) holds: no stream is timed out before 5 s from its request (the earliest the agent's
      // timer can start), nor later than 15 s from its opening at the rogue (the latest). Timed from the opening
      // alone, a run on a loaded machine measured 3.2 s: 1,100 openings took 3.4 s to be confirmed.
      expect(r.fastest['header-timeout'] ?? 0).toBeGreaterThanOrEqual(5000)
      expect(r.slowest['header-timeout'] ?? 0).toBeLessThan(15_000)
      expect(agentPid('relay-1')).toBe(pid)
      // Bounded: what the agent still holds once the flood is over, after a full collection. The RSS right after it
      // is mostly garbage V8 has not collected yet (printed, for the peak).
      const rssAfter = rssMiB(pid)
      const retained = retainedMiB('relay-1')
      console.log(
        `relay-1 agent across the flood: RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MiB before any collection; ` +
          `after full GCs RSS ${retainedBefore.rss.toFixed(0)} -> ${retained.rss.toFixed(0)} MiB, heap used ` +
          `${retainedBefore.heapUsed.toFixed(0)} -> ${retained.heapUsed.toFixed(0)} MiB`,
      )
      expect(retained.rss - retainedBefore.rss).toBeLessThan(64)
      expect(retained.heapUsed - retainedBefore.heapUsed).toBeLessThan(16)
    })
  })

  it('a Node with a garbage podCIDR and annotation is reported, not fatal: the agent keeps routing the rest', async () => {
    const pid = agentPid('relay-1')
    const applied = kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: 'garbage-1', annotations: { 'podlink.io/peer-id': 'not a peer id \u0000' } },
        spec: { podCIDR: '10.244.300.0/99', podCIDRs: ['10.244.300.0/99', 'bananas'] },
        status: { addresses: [{ type: 'InternalIP', address: 'also garbage' }] },
      }),
    )
    expect(applied.code, applied.stderr).toBe(0)
    const { value } = await waitFor('garbage-1 reported', 15_000, async () => {
      const s = await status('relay-1')
      const mine = s.conflicts.filter((c) => c.nodes.includes('garbage-1'))
      return mine.some((c) => c.kind === 'invalid-pod-cidr') && mine.some((c) => c.kind === 'invalid-annotation')
        ? mine
        : undefined
    })
    console.log(`garbage-1 reported: ${value.map((c) => `${c.kind}: ${c.reason}`).join('; ')}`)
    const cli = inNs('relay-1', [
      'env',
      `PODLINK_AGENT_SOCKET=${agentSocketPath(LAB, 'relay-1')}`,
      process.execPath,
      `${REPO}packages/cli/src/main.ts`,
      'conflicts',
    ])
    expect(cli.stdout).toMatch(/garbage-1/)
    expect(agentPid('relay-1')).toBe(pid)
    expect(probe(LAB, 'web-a', `${POD['web-r1']}:8080`, ['--count', '5', '--timeout', '3000'])).toMatchObject({ ok: 5 })
    expect(probe(LAB, 'web-r1', `${POD['web-a']}:8080`, ['--count', '5', '--timeout', '3000'])).toMatchObject({ ok: 5 })
    expect(kubectl(['delete', 'node', 'garbage-1']).code).toBe(0)
  })

  it("a Node claiming another node's peer ID is a conflict: neither is routed to that peer, until it goes", async () => {
    const a1 = (await status('a-1')).peerId
    const applied = kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: 'impostor', annotations: { 'podlink.io/peer-id': a1 } },
        spec: { podCIDR: '10.244.8.0/24' },
        status: { addresses: [{ type: 'InternalIP', address: '192.168.50.5' }] },
      }),
    )
    expect(applied.code, applied.stderr).toBe(0)
    await waitFor('duplicate peer ID reported, the stolen CIDR not routed', 15_000, async () => {
      const s = await status('relay-1')
      const dup = s.conflicts.find((c) => c.kind === 'duplicate-peer-id')
      const stolen = s.routes.find((r) => r.cidr === '10.244.8.0/24')
      return dup?.nodes.includes('impostor') && stolen?.class === 'conflict' ? true : undefined
    })
    expect(sample(metrics('relay-1'), 'podlink_conflicts{kind="duplicate-peer-id"}')).toBe(1)
    expect(kubectl(['delete', 'node', 'impostor']).code).toBe(0)
    await waitFor('a-1 routed again', 15_000, async () =>
      (await status('relay-1')).routes.find((r) => r.cidr === '10.244.1.0/24')?.class === 'mesh' ? true : undefined,
    )
    // The status changes first; the capture set follows, and the mesh connection to a-1 (dropped while its peer ID
    // was in dispute; a-1 is behind NAT and dials back on its own schedule). One CI run probed in between: 4 of 5.
    await waitFor('relay-1 connected to a-1 again', 20_000, async () => {
      const s = (await readAgentStatus(agentSocketPath(LAB, 'relay-1'))) as {
        peers: Array<{ node: string; path: string }>
      }
      const p = s.peers.find((x) => x.node === 'a-1')?.path
      return p !== undefined && p !== 'none' ? true : undefined
    })
    await waitFor("a-1's pod CIDR captured again on relay-1", 10_000, () =>
      /10\.244\.1\.0\/24/.test(inNs('relay-1', ['ipset', 'list', 'PODLINK-MESH-4']).stdout) ? true : undefined,
    )
    const back = probe(LAB, 'web-r1', `${POD['web-a']}:8080`, ['--count', '5', '--timeout', '5000'])
    expect(back, JSON.stringify(back)).toMatchObject({ ok: 5 })
  })

  it('the key files are 0600, and the agent refuses a looser key or a malformed config, naming it', {
    timeout: 600_000,
  }, () => {
    expect(statSync(`${STATE}/nodes/relay-1/state/identity.key`).mode & 0o777).toBe(0o600)
    const dir = mkdtempSync('/tmp/podlink-keys-')
    const base = {
      nodeName: 'relay-1',
      statusSocket: `${dir}/agent.sock`,
      kube: { mode: 'kubeconfig', kubeconfig: kubeconfigPath(LAB, 'relay-1'), kubeProxy: false },
      mesh: { pskFile: `${dir}/swarm.key`, listenPort: 4901 },
      dataplane: { enabled: false },
    }
    // Runs a second agent on the API stand-in's host (nothing else of the lab is touched) with this config.
    const agent = (config: unknown) => {
      writeFileSync(`${dir}/agent.yaml`, typeof config === 'string' ? config : JSON.stringify(config))
      return inNs('apiserver', [
        'timeout',
        '30',
        process.execPath,
        `${REPO}packages/agent/src/main.ts`,
        '--config',
        `${dir}/agent.yaml`,
      ])
    }
    copyFileSync(labPsk, `${dir}/swarm.key`)
    chmodSync(`${dir}/swarm.key`, 0o644)
    const loosePsk = agent({ ...base, stateDir: `${dir}/state1` })
    expect(loosePsk.code).not.toBe(0)
    expect(loosePsk.code).not.toBe(124)
    expect(loosePsk.stdout + loosePsk.stderr).toMatch(/swarm\.key/)
    chmodSync(`${dir}/swarm.key`, 0o600)
    mkdirSync(`${dir}/state2`, { mode: 0o700 })
    copyFileSync(`${STATE}/nodes/relay-1/state/identity.key`, `${dir}/state2/identity.key`)
    chmodSync(`${dir}/state2/identity.key`, 0o640)
    const looseId = agent({ ...base, stateDir: `${dir}/state2` })
    expect(looseId.code).not.toBe(0)
    expect(looseId.code).not.toBe(124)
    expect(looseId.stdout + looseId.stderr).toMatch(/identity\.key/)
    const malformed = agent(`${JSON.stringify({ ...base, stateDir: `${dir}/state3` }).slice(0, -1)}, "mesh": [`)
    expect(malformed.code).not.toBe(0)
    expect(malformed.code).not.toBe(124)
    const broken = agent({ ...base, stateDir: `${dir}/state3`, mesh: { ...base.mesh, listenPort: 'banana' } })
    expect(broken.code).not.toBe(0)
    expect(broken.code).not.toBe(124)
    expect(broken.stdout + broken.stderr).toMatch(/mesh\.listenPort/)
    console.log(
      `refusals: loose swarm key: ${lastLine(loosePsk)}; loose identity key: ${lastLine(looseId)}; bad config: ${lastLine(broken)}`,
    )
  })
})

function lastLine(r: { stdout: string; stderr: string }): string {
  return (
    (r.stderr + r.stdout)
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '')
      .pop() ?? ''
  ).slice(0, 200)
}
