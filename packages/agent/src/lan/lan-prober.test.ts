import { silentLogger } from '@podlink/core'
import { describe, expect, it } from 'vitest'
import {
  classifyProbeError,
  keyOf,
  type LanProbe,
  LanProber,
  type LanProberOptions,
  type LanTarget,
  type ProvenLanVerdict,
} from './lan-prober.ts'

const SELF = '192.168.1.10'
const T0 = 1_700_000_000_000
const peer = (node: string, internalIP: string, peerId = `12D3KooW${node}xxxxxxxx`): LanTarget => ({
  node,
  peerId,
  internalIP,
  port: 4001,
})
const a2 = peer('a-2', '192.168.1.11')
const far = peer('c-1', '192.168.2.10')

type Answer = string | Error
/** A probe whose answer per node is set by the test: an observed IP, or an error thrown. */
function scriptedProbe(answers: Record<string, Answer>) {
  const calls: string[] = []
  const probe: LanProbe = {
    async probe(t) {
      calls.push(t.node)
      const a = answers[t.node]
      if (a === undefined) throw new Error(`no script for ${t.node}`)
      if (a instanceof Error) throw a
      return { observedIP: a }
    },
  }
  return { probe, calls, answers }
}

function prober(
  answers: Record<string, Answer>,
  options: Partial<LanProberOptions> = {},
  initial?: ProvenLanVerdict[],
) {
  const script = scriptedProbe(answers)
  const saved: ProvenLanVerdict[][] = []
  const p = new LanProber(
    {
      probe: script.probe,
      log: silentLogger,
      store: { save: (v) => saved.push([...v]) },
      ...(initial ? { initial } : {}),
    },
    { selfIP: SELF, ...options },
  )
  return { p, ...script, saved }
}

const errno = (code: string, message = `connect ${code} 192.168.1.11:4001`) =>
  Object.assign(new Error(message), { code })

describe('classifyProbeError', () => {
  it.each([
    ['no route (errno)', errno('EHOSTUNREACH'), 'off-lan'],
    ['no route to the network (errno)', errno('ENETUNREACH'), 'off-lan'],
    [
      'no route, wrapped in an aggregate',
      new AggregateError([errno('ENETUNREACH')], 'All promises were rejected'),
      'off-lan',
    ],
    ['no route, as a cause', new Error('dial failed', { cause: errno('EHOSTUNREACH') }), 'off-lan'],
    ['another key (tls)', Object.assign(new Error('Unexpected Peer'), { name: 'EncryptionFailedError' }), 'off-lan'],
    [
      'another key (noise)',
      new Error('Payload identity key abc does not match expected remote identity key def'),
      'off-lan',
    ],
    ['a timeout', new Error('no answer in 2000 ms'), 'unknown'],
    ['an abort', Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }), 'unknown'],
    ['refused (agent not listening yet)', errno('ECONNREFUSED'), 'unknown'],
    ['reset (the peer does not know our peer ID yet)', errno('ECONNRESET'), 'unknown'],
    ['not an error at all', 'weird', 'unknown'],
  ])('%s -> %s', (_what, err, kind) => {
    expect(classifyProbeError(err)).toBe(kind)
  })
})

describe('LanProber', () => {
  it('proves a LAN peer when the key and our own address come back, and NAT when another address does', async () => {
    const { p, saved } = prober({ 'a-2': SELF, 'c-1': '203.0.113.23' })
    expect(await p.evaluate([a2, far], T0)).toBe(true)
    expect(p.lanPeers()).toEqual(new Set(['a-2']))
    expect(p.verdict('c-1')).toMatchObject({ lan: false, proven: true, reason: expect.stringMatching(/NAT/) })
    expect(saved.at(-1)?.map((v) => [v.node, v.lan])).toEqual([
      ['a-2', true],
      ['c-1', false],
    ])
  })

  it('a node with our own InternalIP is on another site, without a dial', async () => {
    const { p, calls } = prober({})
    await p.evaluate([peer('b-1', SELF)], T0)
    expect(p.verdict('b-1')).toMatchObject({ lan: false, proven: true })
    expect(calls).toEqual([])
  })

  it('a probe that proves nothing leaves a never-proven peer off the LAN and retries it within seconds', async () => {
    const { p, calls, answers } = prober({ 'a-2': errno('ECONNREFUSED') })
    expect(await p.evaluate([a2], T0)).toBe(false)
    expect(p.verdict('a-2')).toMatchObject({ lan: false, proven: false })
    // 1 s, 2 s, then 4 s at most between retries while the peer may be starting.
    const due: number[] = []
    for (let t = T0 + 500; t < T0 + 30_000; t += 500) {
      const before = calls.length
      await p.evaluate([a2], t)
      if (calls.length > before) due.push(t - T0)
    }
    expect(due.slice(0, 5)).toEqual([1000, 3000, 7000, 11_000, 15_000])
    answers['a-2'] = SELF
    expect(await p.evaluate([a2], T0 + 40_000)).toBe(true)
    expect(p.lanPeers()).toEqual(new Set(['a-2']))
  })

  it('after many probes that proved nothing, slows down to slowRetryCapMs', async () => {
    const { p, calls } = prober({ 'a-2': new Error('no answer in 2000 ms') }, { quickRetries: 3 })
    const times: number[] = []
    for (let at = T0; at < T0 + 200_000; at += 500) {
      const n = calls.length
      await p.evaluate([a2], at)
      if (calls.length > n) times.push(at)
    }
    const gaps = times.slice(1).map((t, i) => t - times[i]!)
    expect(gaps.slice(0, 6)).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000])
    expect(gaps.slice(-2)).toEqual([30_000, 30_000])
  })

  it('a mesh connection to a peer not proven yet gets it probed again one second after the last try', async () => {
    const { p, calls } = prober({ 'a-2': errno('ECONNRESET') })
    for (let t = T0; t <= T0 + 10_000; t += 1000) await p.evaluate([a2], t)
    const n = calls.length
    await p.evaluate([a2], T0 + 10_500)
    expect(calls.length).toBe(n)
    expect(p.nudge('a-2')).toBe(true)
    expect(p.nudge('c-1')).toBe(false)
    await p.evaluate([a2], T0 + 11_000 + 1)
    expect(calls.length).toBe(n + 1)
  })

  it('keeps a proven LAN verdict through probes that prove nothing (the peer agent restarting), for staleMs', async () => {
    const { p, answers } = prober({ 'a-2': SELF }, { refreshMs: 60_000, staleMs: 300_000 })
    await p.evaluate([a2], T0)
    answers['a-2'] = errno('ECONNREFUSED')
    expect(await p.evaluate([a2], T0 + 60_000)).toBe(false)
    expect(p.lanPeers()).toEqual(new Set(['a-2']))
    expect(p.verdict('a-2')).toMatchObject({ lan: true, proven: true })
    // Still nothing proven 5 minutes after the last proof: the verdict is no longer trusted.
    let lostAt = 0
    for (let t = T0 + 61_000; t <= T0 + 400_000 && lostAt === 0; t += 1000) if (await p.evaluate([a2], t)) lostAt = t
    expect(lostAt).toBeGreaterThanOrEqual(T0 + 300_000)
    expect(lostAt).toBeLessThanOrEqual(T0 + 300_000 + 30_000)
    expect(p.lanPeers()).toEqual(new Set())
    expect(p.verdict('a-2')).toMatchObject({ lan: false, proven: false })
  })

  it('a proof of the opposite overturns a verdict at once', async () => {
    const { p, answers } = prober({ 'a-2': SELF })
    await p.evaluate([a2], T0)
    answers['a-2'] = errno('EHOSTUNREACH')
    expect(await p.evaluate([a2], T0 + 60_000)).toBe(true)
    expect(p.verdict('a-2')).toMatchObject({ lan: false, proven: true })
  })

  it('starts from remembered verdicts: a restart routes as before, while the first probe runs', async () => {
    const initial: ProvenLanVerdict[] = [
      { node: 'a-2', key: keyOf(a2), lan: true, reason: 'same LAN', provenAt: T0 - 10_000 },
      { node: 'c-1', key: keyOf(far), lan: false, reason: 'NAT', provenAt: T0 - 10_000 },
    ]
    const { p, calls } = prober({ 'a-2': errno('ECONNREFUSED'), 'c-1': '203.0.113.23' }, {}, initial)
    expect(p.lanPeers()).toEqual(new Set(['a-2']))
    // Probed at once, and a probe that proves nothing keeps the remembered verdict.
    expect(await p.evaluate([a2, far], T0)).toBe(false)
    expect(calls.sort()).toEqual(['a-2', 'c-1'])
    expect(p.lanPeers()).toEqual(new Set(['a-2']))
  })

  it('forgets a remembered verdict whose peer ID or address changed, before probing', async () => {
    const initial: ProvenLanVerdict[] = [
      { node: 'a-2', key: keyOf(a2), lan: true, reason: 'same LAN', provenAt: T0 - 10_000 },
    ]
    const moved = peer('a-2', '192.168.1.99')
    let resolve: (v: { observedIP: string }) => void = () => {}
    const p = new LanProber(
      {
        probe: { probe: () => new Promise((r) => (resolve = r)) },
        log: silentLogger,
        initial,
      },
      { selfIP: SELF },
    )
    const round = p.evaluate([moved], T0)
    expect(p.lanPeers()).toEqual(new Set())
    resolve({ observedIP: SELF })
    expect(await round).toBe(true)
    expect(p.lanPeers()).toEqual(new Set(['a-2']))
  })

  it('forgets nodes that are gone and saves what is left', async () => {
    let changes = 0
    const saved: ProvenLanVerdict[][] = []
    const p = new LanProber(
      {
        probe: scriptedProbe({ 'a-2': SELF, 'c-1': '203.0.113.23' }).probe,
        log: silentLogger,
        store: { save: (v) => saved.push([...v]) },
        onChange: () => changes++,
      },
      { selfIP: SELF },
    )
    await p.evaluate([a2, far], T0)
    await new Promise((r) => setTimeout(r, 0))
    expect(changes).toBe(1) // a-2 proven on the LAN
    expect(await p.evaluate([far], T0 + 1000)).toBe(true)
    await new Promise((r) => setTimeout(r, 0))
    expect(changes).toBe(2) // a LAN peer gone: its traffic is routed otherwise now, and the agent is told
    expect(saved.at(-1)?.map((v) => v.node)).toEqual(['c-1'])
  })

  it('a round does not probe a node whose probe another round is still running', async () => {
    let calls = 0
    let resolve: (v: { observedIP: string }) => void = () => {}
    const p = new LanProber(
      {
        probe: {
          probe: () => {
            calls++
            return new Promise((r) => (resolve = r))
          },
        },
        log: silentLogger,
      },
      { selfIP: SELF },
    )
    const first = p.evaluate([a2], T0)
    expect(await p.evaluate([a2], T0 + 5000)).toBe(false)
    resolve({ observedIP: SELF })
    expect(await first).toBe(true)
    expect(calls).toBe(1)
  })
})

describe('LanProber at scale', () => {
  it('runs at most maxConcurrent probes at once, across rounds, and counts each outcome as it comes in', async () => {
    let running = 0
    let most = 0
    const release: Array<() => void> = []
    const probe: LanProbe = {
      async probe(t) {
        running++
        most = Math.max(most, running)
        try {
          // a-2 answers at once; the far nodes hang until the test lets them go (unreachable addresses).
          if (t.node !== 'a-2') await new Promise<void>((r) => release.push(r))
          if (t.node !== 'a-2') throw new Error('no answer in 2000 ms')
          return { observedIP: SELF }
        } finally {
          running--
        }
      },
    }
    let changes = 0
    const p = new LanProber({ probe, log: silentLogger, onChange: () => changes++ }, { selfIP: SELF, maxConcurrent: 4 })
    const fars = Array.from({ length: 20 }, (_, i) => peer(`sim-${i}`, `172.20.0.${i + 2}`))
    const round = p.evaluate([a2, ...fars], T0)
    // A second round while the first waits: nothing is probed twice, and the cap holds across both.
    const second = p.evaluate([a2, ...fars], T0 + 1)
    await new Promise((r) => setTimeout(r, 10))
    expect(running).toBe(4) // a-2 done and its slot passed on: four far probes hang, the 16 others wait
    // a-2's verdict is in while the round goes on: the routing can use it now.
    expect(p.lanPeers()).toEqual(new Set(['a-2']))
    await new Promise((r) => setTimeout(r, 0))
    expect(changes).toBe(1)
    while (release.length > 0) {
      release.shift()!()
      await new Promise((r) => setTimeout(r, 1))
    }
    expect(await round).toBe(true)
    expect(await second).toBe(false)
    expect(most).toBe(4)
    expect(fars.every((f) => p.verdict(f.node)?.proven === false)).toBe(true)
  })
})
