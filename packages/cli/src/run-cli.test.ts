import { describe, expect, it } from 'vitest'
import { runCli } from './run-cli.ts'
import { fakeCli } from './testing/fake-cli-context.ts'
import { fixtureTrace, fixtureStatus as s } from './testing/fixture-status.ts'

const healthy = { ...s, conflicts: [], peers: s.peers.filter((p) => p.path !== 'none') }

describe('runCli exit codes', () => {
  it.each([
    [['status'], s, 1],
    [['status'], healthy, 0],
    [[], healthy, 0],
    [['--json'], healthy, 0],
    [['peers'], s, 1],
    [['peers'], healthy, 0],
    [['routes'], s, 1],
    [['routes'], healthy, 0],
    [['conflicts'], s, 1],
    [['conflicts'], healthy, 0],
    [['services'], s, 0],
    [['flows', '--sort', 'tx'], s, 0],
    [['graph', '--format', 'mermaid'], s, 0],
    [['help'], s, 0],
    [['peers', '--help'], s, 0],
    [['nope'], s, 2],
    [['peers', '--bogus'], s, 2],
    [['peers', 'extra'], s, 2],
    [['flows', '--sort', 'size'], s, 2],
    [['ping'], s, 2],
    [['ping', 'edge-b1', '--count', '0'], s, 2],
    [['ping', 'edge-b1', '--count', 'x'], s, 2],
    [['trace'], s, 2],
    [['graph', '--format', 'png'], s, 2],
    [['graph', 'file.json'], s, 2],
  ] as const)('podlink %j -> %d', async (argv, status, code) => {
    const f = fakeCli({ status })
    expect(await runCli(argv, f.ctx)).toBe(code)
    if (code === 2 && argv[0] !== 'nope') expect(f.err.join('\n')).toMatch(/Cannot .*\n(usage: podlink|[\s\S]*usage)/)
  })

  it('exits 3 with the agent client message when no agent answers', async () => {
    const f = fakeCli({ noAgent: true })
    expect(await runCli(['peers'], f.ctx)).toBe(3)
    expect(f.err.join('\n')).toMatch(/podlink peers: Cannot reach the podlink agent at .*is podlink-agent running/)
    expect(f.out).toEqual([])
  })

  it('--json prints the sub-array the agent served, unchanged', async () => {
    for (const [cmd, key] of [
      ['peers', 'peers'],
      ['routes', 'routes'],
      ['services', 'services'],
      ['conflicts', 'conflicts'],
    ] as const) {
      const f = fakeCli({ status: s })
      await runCli([cmd, '--json'], f.ctx)
      expect(JSON.parse(f.out.join(''))).toEqual(s[key])
    }
    const f = fakeCli({ status: s })
    await runCli(['status', '--json'], f.ctx)
    expect(JSON.parse(f.out.join(''))).toEqual(s)
  })

  it('--watch redraws until interrupted', async () => {
    const f = fakeCli({ status: healthy, watchRounds: 3 })
    expect(await runCli(['peers', '--watch'], f.ctx)).toBe(0)
    expect(f.out.filter((o) => o.startsWith('NODE'))).toHaveLength(3)
  })

  it('trace renders the agent answer, exit 1 when broken, 2 when the agent rejects the destination', async () => {
    const ok = fakeCli({ status: s, trace: fixtureTrace })
    expect(await runCli(['trace', '10.96.0.20:80'], ok.ctx)).toBe(0)
    expect(ok.out.join('\n')).toContain('verdict')
    expect(await runCli(['trace', '10.244.6.1'], fakeCli({ trace: { ...fixtureTrace, broken: true } }).ctx)).toBe(1)
    const bad = fakeCli({ trace: fixtureTrace })
    expect(await runCli(['trace', 'web-server'], bad.ctx)).toBe(2)
  })

  it('ping streams replies, exits 0 with a reply and 1 with none', async () => {
    const reply = {
      type: 'reply',
      seq: 1,
      node: 'edge-b1',
      peerId: 'P',
      path: 'direct',
      relay: null,
      addr: null,
      rttMs: 20,
    } as const
    const good = fakeCli({
      ping: [reply, { type: 'summary', node: 'edge-b1', sent: 1, received: 1, minMs: 20, avgMs: 20, maxMs: 20 }],
    })
    expect(await runCli(['ping', 'edge-b1', '-c', '1'], good.ctx)).toBe(0)
    expect(good.out[0]).toBe('PING edge-b1 over the podlink mesh: 1 probe(s)')
    expect(good.out[1]).toContain('reply from edge-b1')
    const none = fakeCli({
      ping: [
        { type: 'lost', seq: 1, node: 'edge-c2', reason: 'no path' },
        { type: 'summary', node: 'edge-c2', sent: 1, received: 0, minMs: null, avgMs: null, maxMs: null },
      ],
    })
    expect(await runCli(['ping', 'edge-c2', '--count', '1'], none.ctx)).toBe(1)
    const json = fakeCli({ ping: [reply] })
    await runCli(['ping', 'edge-b1', '--json'], json.ctx)
    expect(JSON.parse(json.out[0]!)).toEqual(reply)
  })
})
