// Issue 9, faults: each fault runs with flows open (checksummed TCP both ways, UDP) and a probe loop that
// records every failure; each prints and records one line: flows affected, time to recover, bytes lost.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { FlowStatus } from '../../packages/core/src/types.ts'
import { agentCommand, startLabAgent, waitAgentReady } from '../../packages/testlab/src/lab/lab-agents.ts'
import { loadLabTopology } from '../../packages/testlab/src/lab/lab-status.ts'
import { labCli, probe } from '../lab/lab-cli.ts'
import { type Measured, measure, recordFault, sleep, startKeeper, waitFor } from './fault-harness.ts'
import {
  addNode,
  agentDiagnostics,
  faultsLabUp,
  inNs,
  kubectl,
  LAB,
  NODES,
  POD,
  peerOf,
  type Relay,
  settlePaths,
  standardTraffic,
  status,
} from './faults-lab.ts'

/** Where a source keeper serves pattern bytes in a pod (the echo servers have 8080 and 9000). */
const SOURCE_PORT = 8090

const probesOf = (m: Measured, prefix: string) =>
  m.reports.flatMap((r) => r.probes).filter((p) => p.id.startsWith(prefix))
const flowsOf = (m: Measured, prefix: string) =>
  m.reports.flatMap((r) => r.flows).filter((f) => f.id.startsWith(prefix))
/** Recovery of the probes matching `prefix`, from `from`: 0 when none failed; a probe failing at the end counts to the end. */
const recoveryOf = (m: Measured, prefix: string, from: number): number =>
  Math.max(
    0,
    ...m.reports.flatMap((r) =>
      r.probes
        .filter((p) => p.id.startsWith(prefix) && p.lastFailAt !== null)
        .map((p) => (p.recoveredAt ?? r.now) - from),
    ),
  )

/** Waits until every probe whose id starts with `prefix` has answered after its last failure since `since`. */
async function recovered(
  keepers: Awaited<ReturnType<typeof standardTraffic>>,
  prefix: string,
  since: number,
  ms: number,
) {
  return waitFor(`${prefix} probes recovered`, ms, async () => {
    const reports = await Promise.all(keepers.map((k) => k.report(since)))
    const ps = reports.flatMap((r) => r.probes).filter((p) => p.id.startsWith(prefix))
    const behind = ps.filter((p) => p.failed > 0 && p.recoveredAt === null)
    if (behind.length > 0) throw new Error(`not yet: ${behind.map((p) => `${p.id} ${p.reasons.join('/')}`).join(', ')}`)
    return true
  })
}

/**
 * The capture rules and sets of a node, without counters: what must be identical after a restart. A set's
 * `initval` is its hash seed, random each time the set is made, and every refill swaps in a new set
 * (render-restore.ts): it is no part of what the set holds.
 */
function rulesOf(node: string): { rules: string[]; sets: string } {
  const rules = inNs(node, ['iptables-save'])
    .split('\n')
    .filter((l) => l.startsWith('-A ') || l.startsWith(':PODLINK'))
  const sets = inNs(node, ['ipset', 'save'])
    .split('\n')
    .filter((l) => l.includes('PODLINK'))
    .map((l) => l.replace(/ initval 0x[0-9a-f]+/, ''))
    .sort()
    .join('\n')
  return { rules, sets }
}

function expectClean(m: Measured): void {
  expect(m.bytesLost, 'bytes written into completed flows and never echoed').toBe(0)
  expect(m.bytesCorrupt, 'bytes that came back different').toBe(0)
}

describe('faults with flows open (issue 9)', () => {
  const t = () => loadLabTopology(LAB)

  beforeAll(async () => {
    faultsLabUp()
    await settlePaths()
  }, 240_000)
  afterAll(() => {
    labCli(['down', LAB])
  })
  // CI keeps no lab: a failed fault prints which agents are down and the log tails that may say why.
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') console.log(`after the failure:\n${agentDiagnostics(NODES, 12)}`)
  })

  it('baseline: the same traffic with no fault, for the noise floor of this machine', async () => {
    const keepers = await standardTraffic()
    const from = Date.now()
    await sleep(10_000)
    const m = await measure('baseline (no fault, 10 s)', keepers, from)
    recordFault({ ...m, notes: 'what the probes see on this machine without a fault: compare the rows below with it' })
    expectClean(m)
  })

  it('the relay killed: punched and direct flows continue, relayed ones come back via the other relay within 5 s', async () => {
    const used = (await peerOf('c-1', 'a-1'))?.relay as Relay | null
    expect(used === 'relay-1' || used === 'relay-2', `c-1 -> a-1 via ${used}`).toBe(true)
    const other: Relay = used === 'relay-1' ? 'relay-2' : 'relay-1'
    const keepers = await standardTraffic(other)
    await sleep(2000)
    const faultAt = Date.now()
    await agentCommand(t(), used as string, 'kill')
    try {
      await recovered(keepers, 'relay:', faultAt, 20_000)
      const { value: via } = await waitFor('c-1 -> a-1 through the other relay', 10_000, async () => {
        const p = await peerOf('c-1', 'a-1')
        return p?.path === 'relay' && p.relay === other ? p.relay : undefined
      })
      // New flows after the recovery: a few more seconds of probes, all of which must succeed.
      await sleep(3000)
      const m = await measure('relay killed', keepers, faultAt)
      const relayRecovery = recoveryOf(m, 'relay:', faultAt)
      recordFault({
        ...m,
        notes: `killed ${used}; relayed paths back via ${via} in ${relayRecovery} ms; punched/direct/lan untouched`,
      })
      for (const path of ['punched:', 'direct:', 'lan:']) {
        for (const p of probesOf(m, path)) expect(p.failed, `${p.id} ${p.reasons.join(', ')}`).toBe(0)
        for (const f of flowsOf(m, path)) expect(f.breaks, `${f.id} ${f.reasons.join(', ')}`).toBe(0)
      }
      expect(relayRecovery).toBeLessThanOrEqual(5000)
      // New flows over the relayed paths succeed (a generous timeout: the machine may be loaded).
      for (const to of ['web-a', 'web-b'] as const) {
        expect(probe(LAB, 'web-c', `${POD[to]}:8080`, ['--count', '10', '--timeout', '5000']), to).toMatchObject({
          ok: 10,
        })
      }
      expectClean(m)
    } finally {
      await agentCommand(t(), used as string, 'start')
    }
    await waitFor('c-1 holds both reservations again', 30_000, async () =>
      (await status('c-1')).relays.every((r) => r.reserved) ? true : undefined,
    )
  })

  it('an agent SIGKILLed and restarted: its rules are the same, none duplicated, traffic back within 5 s', async () => {
    const before = rulesOf('a-1')
    const keepers = await standardTraffic()
    await sleep(2000)
    // The fault is an agent dying while its rules treat its LAN peer as one: a-1's data plane must agree with its
    // status. In 1 run in ~8 it did not: a-2's pod CIDR sat in a-1's capture set while the status said lan, and
    // same-LAN probes were refused once a-1 was gone. a-2 was proven same-LAN while a-1's data plane was starting,
    // and that sync was dropped (fixed in createDataplane; its unit test). Within the minimum sync interval now.
    const skipWait = Date.now()
    await waitFor("a-1's data plane skips a-2's pod CIDR", 5_000, async () => {
      const sets = rulesOf('a-1').sets
      if (sets.includes('add PODLINK-SKIP-4 10.244.2.0/24') && !sets.includes('add PODLINK-MESH-4 10.244.2.0/24'))
        return true
      const lines = sets.split('\n').filter((l) => l.includes('10.244.2.0/24') || l.startsWith('create'))
      const route = (await status('a-1')).routes.find((r) => r.cidr === '10.244.2.0/24')
      throw new Error(`a-1's route ${JSON.stringify(route)}, sets: ${lines.join(' | ')}`)
    })
    console.log(`a-1's data plane skipped a-2's pod CIDR after ${Date.now() - skipWait} ms of waiting`)
    // What a-1 holds of a-2 as it dies: a same-LAN probe refused after the kill means a-2's pod CIDR was captured.
    const atKill = rulesOf('a-1').sets.split('\n')
    const a2 = await peerOf('a-1', 'a-2')
    console.log(
      `at the kill: a-1 sees a-2 lan=${a2?.lan} path=${a2?.path} (${a2?.reason ?? ''}); 10.244.2.0/24 in`,
      atKill.filter((l) => l.includes('10.244.2.0/24')).join(' | ') || 'no set',
    )
    const faultAt = Date.now()
    await agentCommand(t(), 'a-1', 'kill')
    const startedAt = Date.now()
    await startLabAgent(t(), 'a-1')
    await waitAgentReady(t(), 'a-1', 60_000)
    // Recovery counts from the restarted agent answering on its status socket: what happens before that is Node
    // loading the agent (about 1 s on an idle machine, over 20 s on a 2-core machine shared with other labs).
    const readyAt = Date.now()
    await recovered(keepers, '', readyAt, 60_000)
    await sleep(2000)
    const m = await measure('agent SIGKILL + restart', keepers, faultAt)
    const sinceReady = Math.max(
      ...['punched:', 'relay:', 'direct:', 'lan:'].map((path) => recoveryOf(m, path, readyAt)),
    )
    recordFault({
      ...m,
      recoveryMs: sinceReady,
      notes: `a-1 killed; restarted at once, ready ${readyAt - startedAt} ms later; recovery counted from ready`,
    })
    expect(sinceReady).toBeLessThanOrEqual(5000)
    // Same-LAN traffic never touches podlink (ARCHITECTURE decision 1): not while a-1 is dead, not while it starts.
    for (const p of probesOf(m, 'lan:')) expect(p.failed, `${p.id} ${p.reasons.join(', ')}`).toBe(0)
    for (const f of flowsOf(m, 'lan:')) expect(f.breaks, `${f.id} ${f.reasons.join(', ')}`).toBe(0)
    expectClean(m)
    // The rules and sets come back as they were (a-1 starts from the LAN verdicts it saved), none twice.
    const { value: after } = await waitFor('a-1 rules and sets as before the kill', 15_000, () => {
      const now = rulesOf('a-1')
      return now.sets === before.sets ? now : undefined
    })
    expect(after.rules).toEqual(before.rules)
    expect(new Set(after.rules).size, 'no duplicated rule').toBe(after.rules.length)
    // Nothing left behind: every pod connection the exit holds belongs to a flow it tracks.
    await waitFor('no orphan pod connections on a-1', 20_000, () => {
      const held = inNs('a-1', ['ss', '-Htn', 'state', 'established', 'dst', '10.244.1.2']).trim()
      return held === '' ? true : undefined
    })
  })

  it('NAT mappings flushed on a router (conntrack -F): every path recovers', async () => {
    // Besides the standard traffic (whose flows from web-a always have bytes to send, so site A's side re-creates
    // its mappings itself), web-a downloads from a source behind each of its paths and sends nothing: after the
    // flush the far end's bytes meet a router that forgot them, and only a probe from a-1 (BUSY_KEEPALIVE_MS)
    // brings them back. Without it a download on a fast socket stalled for good, one on libp2p ~6 s.
    const sources = await Promise.all(
      (['web-b', 'web-c', 'web-r2'] as const).map((pod) => startKeeper(LAB, pod, { source: { port: SOURCE_PORT } })),
    )
    const downloads = [
      { id: 'punched:web-a<-web-b', target: `${POD['web-b']}:${SOURCE_PORT}` },
      { id: 'relay:web-a<-web-c', target: `${POD['web-c']}:${SOURCE_PORT}` },
      { id: 'direct:web-a<-web-r2', target: `${POD['web-r2']}:${SOURCE_PORT}` },
    ]
    // After the standard traffic, which warms a-1's fast pools to b-1 and relay-2: the downloads to them take fast
    // sockets (one flow each, nothing else on it to re-create a mapping), the one to c-1 a libp2p stream.
    const keepers = await standardTraffic()
    const downloader = await startKeeper(LAB, 'web-a', { downloads })
    try {
      await waitFor('downloads flowing', 20_000, async () => {
        const r = await downloader.report(0)
        const idle = r.downloads.filter((d) => d.received === 0).map((d) => d.id)
        if (idle.length > 0) throw new Error(`nothing yet: ${idle.join(', ')}`)
        return true
      })
      const channels = ((await status('a-1')).flows as FlowStatus[])
        .filter((f) => f.destination.endsWith(`:${SOURCE_PORT}`))
        .map((f) => `${f.destination} ${f.path} ${f.channel ?? '?'}`)
      console.log(`downloads into web-a, as a-1 carries them: ${channels.join(', ')}`)
      await sleep(2000)
      const faultAt = Date.now()
      inNs('gw-siteA', ['conntrack', '-F'])
      await recovered(keepers, '', faultAt, 30_000)
      await sleep(5000)
      const got = (await downloader.report(faultAt)).downloads
      const m = await measure('conntrack -F on gw-siteA (cone NAT)', keepers, faultAt)
      const gaps = got.map((d) => `${d.id} ${d.longestGapMs} ms`).join(', ')
      console.log(`the longest silence of each download after the flush: ${gaps}`)
      recordFault({
        ...m,
        notes: `every NAT mapping of site A (punched, dialled and relay connections) forgotten; the longest silence of downloads into web-a: ${gaps}`,
      })
      expect(m.recoveryMs).toBeLessThanOrEqual(5000)
      for (const d of got) {
        expect(d.corrupt, `${d.id} corrupt bytes`).toBe(0)
        expect(d.breaks, `${d.id} broke (${d.reasons.join(', ')})`).toBe(0)
        expect(d.longestGapMs, `${d.id}: longest silence after the flush`).toBeLessThanOrEqual(5000)
      }
      expect((await peerOf('a-1', 'b-1'))?.path).toBe('punched')
      expectClean(m)
      // The agents' watches of the API crossed the flushed NAT too. The API's next write (a bookmark, 10 s here) met
      // a reset from the router and the API closed its end; site A's agents heard nothing and noticed after 30 s
      // without data, missing every change meanwhile. A Node added 20 s after the flush must be routed everywhere at
      // once.
      await sleep(Math.max(0, faultAt + 20_000 - Date.now()))
      addNode('after-flush-1', '10.244.8.0/24', '192.168.8.8')
      try {
        const seen = await Promise.all(
          NODES.map((node) =>
            waitFor(`${node} routes after-flush-1`, 10_000, async () =>
              (await status(node)).routes.some((r) => r.node === 'after-flush-1') ? true : undefined,
            ),
          ),
        )
        console.log(
          `a Node added 20 s after the flush: routed ${NODES.map((n, i) => `${n} ${Math.round(seen[i]!.ms)} ms`).join(', ')}`,
        )
        expect(Math.max(...seen.map((x) => x.ms))).toBeLessThanOrEqual(3000)
      } finally {
        expect(kubectl(['delete', 'node', 'after-flush-1']).code).toBe(0)
      }
    } finally {
      downloader.kill()
      for (const k of sources) k.kill()
    }
  })

  it('a LAN link down for 3 s and up: paths recover, same-LAN traffic unaffected', async () => {
    const keepers = await standardTraffic()
    await sleep(2000)
    const faultAt = Date.now()
    // Site A's router loses its LAN link: the site is cut off from the internet, its LAN keeps working.
    inNs('sw-siteA', ['ip', 'link', 'set', 'gw', 'down'])
    let upAt = 0
    try {
      await sleep(3000)
    } finally {
      inNs('sw-siteA', ['ip', 'link', 'set', 'gw', 'up'])
      upAt = Date.now()
    }
    await recovered(keepers, '', faultAt, 60_000)
    await sleep(3000)
    const m = await measure('LAN link down 3 s and up (gw-siteA)', keepers, faultAt)
    const sinceUp = Math.max(0, m.recoveryMs - (upAt - faultAt))
    recordFault({
      ...m,
      recoveryMs: sinceUp,
      notes: `site A's router link down ${upAt - faultAt} ms; recovery counted from link up`,
    })
    for (const p of probesOf(m, 'lan:')) expect(p.failed, p.id).toBe(0)
    expect(sinceUp).toBeLessThanOrEqual(5000)
    expectClean(m)
  })

  it('the API stand-in away for 2 minutes: routing goes on from the cache, changes made meanwhile arrive after', async () => {
    const keepers = await standardTraffic()
    await sleep(2000)
    const faultAt = Date.now()
    // Away for every agent, still there for kubectl (which runs in the API's own namespace, over lo): a partition
    // on the API's only link, both ways. A REJECT of what comes in is not one: the API still pushes events down
    // a quiet watch connection, and an agent that sent nothing meanwhile (no reset) got late-1 at once.
    const port = String(t().apiServer.port)
    const rules = [
      ['INPUT', '-i', 'eth0', '-p', 'tcp', '--dport', port, '-j', 'DROP'],
      ['OUTPUT', '-o', 'eth0', '-p', 'tcp', '--sport', port, '-j', 'DROP'],
    ]
    for (const rule of rules) inNs('apiserver', ['iptables', '-I', ...rule])
    let healedAt = 0
    try {
      await sleep(5000)
      addNode('late-1', '10.244.9.0/24', '192.168.9.9')
      await sleep(10_000)
      for (const node of NODES) {
        const s = await status(node)
        expect(
          s.routes.some((r) => r.node === 'late-1'),
          `${node} cannot know late-1 yet`,
        ).toBe(false)
      }
      await sleep(Math.max(0, faultAt + 120_000 - Date.now()))
    } finally {
      for (const rule of rules) inNs('apiserver', ['iptables', '-D', ...rule])
      healedAt = Date.now()
    }
    const { ms } = await waitFor('late-1 routed everywhere', 60_000, async () => {
      for (const node of NODES) {
        if (!(await status(node)).routes.some((r) => r.node === 'late-1' && r.cidr === '10.244.9.0/24'))
          throw new Error(`${node} has no route to late-1`)
      }
      return true
    })
    const m = await measure('API away 120 s', keepers, faultAt)
    recordFault({
      ...m,
      notes: `API unreachable ${healedAt - faultAt} ms; a Node added meanwhile was routed on every agent ${Math.round(ms)} ms after it returned`,
    })
    expect(m.probesFailed).toBe(0)
    expect(m.flowsAffected).toBe(0)
    expectClean(m)
    // The informers retry within their capped backoff (10 s, DEFAULT_BACKOFF), then list: a change made meanwhile
    // arrives within seconds of the API's return, not half a minute (10-26 s with client-go's 30 s cap).
    expect(ms, 'late-1 routed everywhere after the API returned').toBeLessThanOrEqual(15_000)
    expect(kubectl(['delete', 'node', 'late-1']).code).toBe(0)
  })

  it('a node deleted: its routes are withdrawn on every agent within 2 s', async () => {
    // Every agent watches the API again first: after an outage an informer comes back within its capped backoff
    // (10 s), and a deletion made before that is a test of the backoff, not of the withdrawal.
    await waitFor('every agent synced with the API', 60_000, async () => {
      for (const node of NODES) {
        const v = ((await status(node)) as unknown as { view: { synced: boolean; stale: boolean } }).view
        if (!v.synced || v.stale) throw new Error(`${node}'s view is ${v.stale ? 'stale' : 'not synced'}`)
      }
      return true
    })
    const saved = JSON.parse(kubectl(['get', 'node', 'b-1', '-o', 'json']).stdout) as {
      metadata: Record<string, unknown>
    }
    const r = kubectl(['delete', 'node', 'b-1'])
    expect(r.code, r.stderr).toBe(0)
    const deletedAt = Date.now()
    const others = NODES.filter((n) => n !== 'b-1')
    const seen = await Promise.all(
      others.map((node) =>
        waitFor(`${node} withdraws b-1`, 10_000, async () =>
          (await status(node)).routes.some((x) => x.node === 'b-1' || x.cidr === '10.244.3.0/24') ? undefined : true,
        ),
      ),
    )
    const worst = Math.max(...seen.map((s) => s.ms))
    console.log(
      `node deleted: routes withdrawn ${others.map((n, i) => `${n} ${Math.round(seen[i]!.ms)} ms`).join(', ')}`,
    )
    // And in the data plane: no agent's capture set holds the CIDR any more (nothing is sent towards b-1).
    await Promise.all(
      others.map((node) =>
        waitFor(`${node} capture set without b-1`, 10_000, () =>
          /10\.244\.3\.0\/24/.test(inNs(node, ['ipset', 'list', 'PODLINK-MESH-4'])) ? undefined : true,
        ),
      ),
    )
    const setsMs = Date.now() - deletedAt
    console.log(`node deleted: capture sets without b-1 on every agent ${setsMs} ms after kubectl delete returned`)
    recordFault({
      fault: 'node deleted (b-1)',
      flowsAffected: 0,
      flowsHeld: 0,
      probesFailed: 0,
      probesSent: 0,
      recoveryMs: setsMs,
      bytesLost: 0,
      bytesCorrupt: 0,
      inFlightAtBreaks: 0,
      notes: `routes withdrawn from the status of ${others.length} agents within ${Math.round(worst)} ms, from every capture set within ${setsMs} ms (the time column), after kubectl delete returned`,
    })
    expect(worst).toBeLessThanOrEqual(2000)
    expect(setsMs).toBeLessThanOrEqual(2000)
    const { uid: _u, resourceVersion: _rv, creationTimestamp: _c, ...meta } = saved.metadata
    expect(kubectl(['apply', '-f', '-'], JSON.stringify({ ...saved, metadata: meta })).code).toBe(0)
    await waitFor('b-1 routed again', 10_000, async () =>
      (await status('a-1')).routes.some((x) => x.node === 'b-1') ? true : undefined,
    )
  })
})
