// The lab tool's own guarantees: bad files are refused before anything exists, `down` leaves nothing
// behind (also after a killed `up`), and nothing in a lab can reach the machine or beyond it.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { labCli, labUpOrThrow, netnsList, REPO, SHARED_TOPOLOGIES } from './lab-cli.ts'

const tmp = mkdtempSync(`${tmpdir()}/podlink-lab-test-`)
const processesIn = (lab: string): string[] =>
  (spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).stdout ?? '')
    .split('\n')
    .filter((l) => l.includes(`/podlink-lab/${lab}/`) || l.includes(`netns exec ${lab}.`))

function expectGone(lab: string): void {
  expect(netnsList().filter((ns) => ns.startsWith(`${lab}.`))).toEqual([])
  expect(existsSync(`/run/podlink-lab/${lab}`)).toBe(false)
  expect(processesIn(lab)).toEqual([])
}

describe('pnpm lab', () => {
  it('refuses a bad topology before anything is created, one message per problem naming the field', () => {
    const file = `${tmp}/bad.yaml`
    writeFileSync(
      file,
      readFileSync(`${SHARED_TOPOLOGIES}seed-002.yaml`, 'utf8')
        .replace('name: seed002', 'name: badlab')
        .replace('ip: 192.168.1.12', 'ip: 192.168.2.12')
        .replace('{ name: nginx-2, node: node2,', '{ name: nginx-2, node: node9,')
        .replace('protocol: TCP', 'protocol: SCTP'),
    )
    const before = netnsList()
    const r = labCli(['up', file, '--no-agents'])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('nodes[2].ip: 192.168.2.12 is outside lan edge (192.168.1.0/24)')
    expect(r.stderr).toContain('pods[2].node: unknown node "node9"')
    expect(r.stderr).toContain('services[0].ports[0].protocol: "SCTP" is not supported (TCP or UDP)')
    expect(r.stderr).toContain('3 problem(s)')
    expect(netnsList()).toEqual(before)
    expectGone('badlab')
  })

  it('down removes every namespace, process and state file', () => {
    const file = `${tmp}/downtest.yaml`
    writeFileSync(
      file,
      readFileSync(`${SHARED_TOPOLOGIES}two-sites.yaml`, 'utf8').replace('name: twosites', 'name: downtest'),
    )
    labUpOrThrow(file)
    expect(netnsList().filter((ns) => ns.startsWith('downtest.')).length).toBeGreaterThan(10)
    expect(processesIn('downtest').length).toBeGreaterThan(0)
    const r = labCli(['down', 'downtest'])
    expect(r.code, r.stderr).toBe(0)
    expectGone('downtest')
  })

  it('down cleans up after an up that was killed halfway', async () => {
    const file = `${tmp}/killtest.yaml`
    writeFileSync(
      file,
      readFileSync(`${SHARED_TOPOLOGIES}two-sites.yaml`, 'utf8').replace('name: twosites', 'name: killtest'),
    )
    for (const killAfterMs of [150, 900]) {
      const up = spawn(process.execPath, [`${REPO}packages/testlab/src/cli/main.ts`, 'up', file, '--no-agents'], {
        stdio: 'ignore',
      })
      // Listen for the exit from the start: on a quick machine `up --no-agents` can finish before the kill, and an
      // exit that happened before the listener was attached would be waited for forever.
      const exited = new Promise((resolve) => up.on('exit', resolve))
      await sleep(killAfterMs)
      up.kill('SIGKILL')
      await exited
      const r = labCli(['down', 'killtest'])
      expect(r.code, r.stderr).toBe(0)
      expectGone('killtest')
    }
  })

  it('gives no lab namespace a link or a route to the machine or beyond', () => {
    labCli(['down', 'seed002'])
    labUpOrThrow(`${SHARED_TOPOLOGIES}seed-002.yaml`)
    try {
      const rootAddrs = (
        spawnSync('ip', ['-o', '-4', 'addr', 'show', 'scope', 'global'], { encoding: 'utf8' }).stdout ?? ''
      )
        .split('\n')
        .map((l) => l.trim().split(/\s+/)[3]?.split('/')[0])
        .filter((a): a is string => Boolean(a))
      const namespaces = netnsList().filter((ns) => ns.startsWith('seed002.'))
      expect(namespaces.length).toBe(12)
      for (const ns of namespaces) {
        // Every veth's peer is in another lab namespace: none ends in the root namespace.
        const links = spawnSync('ip', ['-n', ns, '-d', '-o', 'link'], { encoding: 'utf8' }).stdout ?? ''
        for (const line of links.split('\n').filter((l) => l.includes('veth'))) {
          expect(line, `${ns}: ${line}`).toMatch(/link-netns seed002\./)
        }
        // No interface but lo, veths, bridges and the VXLAN device: nothing physical, nothing shared.
        for (const line of links.split('\n').filter(Boolean)) {
          expect(line, `${ns}: ${line}`).toMatch(/^\d+: (lo|[\w.@-]+): .*(loopback|veth|bridge|vxlan)/s)
        }
        // Routers and the API host have no default route: the machine's addresses and the world beyond
        // are unreachable, decided by the routing table alone (no packet is sent to find out).
        if (/\.(gw-[\w-]+|apiserver|inet|sw-[\w-]+)$/.test(ns)) {
          for (const target of [...rootAddrs, '1.1.1.1']) {
            const route = spawnSync('ip', ['-n', ns, 'route', 'get', target], { encoding: 'utf8' })
            expect(route.status, `${ns} -> ${target}: ${route.stdout}`).not.toBe(0)
            expect(route.stderr).toMatch(/unreachable/i)
          }
        }
      }
    } finally {
      labCli(['down', 'seed002'])
    }
  })
})
