import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMarkedTcpConnection, createMarkedUdpSocket } from './capture/marked-socket.ts'
import { createTcpCapture, type TcpCapture } from './capture/tcp-capture.ts'
import { type CapturedDatagram, createUdpCapture, type UdpCapture } from './capture/udp-capture.ts'
import { parseSave } from './rules/observe-save.ts'
import { createDataplane, type Dataplane } from './sync/create-dataplane.ts'
import { createNetfilter } from './sync/netfilter.ts'
import { exampleTables } from './testing/example-tables.ts'
import { deleteNetnsWithPrefix, enterNetns, sh } from './testing/netns.ts'

/*
 * pldp-pod [pldp-pn0 10.88.0.2 fd88::2] -- veth -- [pldp-np0 in bridge pldp-br0 10.88.0.1 fd88::1] pldp-node
 * pldp-node [pldp-nr0 10.99.0.1 fd99::1] -- veth -- [pldp-rn0 10.99.0.2 fd99::2] pldp-remote
 * pldp-remote owns 10.244.9.10 and fd44::10 (off-LAN pod CIDRs) and 10.244.2.10 (a same-LAN pod CIDR) on lo.
 * pldp-node routes those CIDRs and the ClusterIP ranges to pldp-remote; the agent (this process) lives in pldp-node.
 */
const PROBE = fileURLToPath(new URL('./testdata/lab-probe.ts', import.meta.url))
const NODE = process.execPath

function topology(): void {
  const n = 'ip -n pldp-node'
  sh(`ip netns add pldp-node && ip netns add pldp-pod && ip netns add pldp-remote`)
  for (const ns of ['pldp-node', 'pldp-pod', 'pldp-remote']) sh(`ip -n ${ns} link set lo up`)
  sh(`ip link add pldp-pn0 netns pldp-pod type veth peer name pldp-np0 netns pldp-node`)
  sh(`ip link add pldp-nr0 netns pldp-node type veth peer name pldp-rn0 netns pldp-remote`)
  sh(`${n} link add pldp-br0 type bridge && ${n} link set pldp-np0 master pldp-br0`)
  sh(`${n} addr add 10.88.0.1/24 dev pldp-br0 && ${n} addr add fd88::1/64 dev pldp-br0 nodad`)
  sh(`${n} addr add 10.99.0.1/24 dev pldp-nr0 && ${n} addr add fd99::1/64 dev pldp-nr0 nodad`)
  sh(`${n} link set pldp-br0 up && ${n} link set pldp-np0 up && ${n} link set pldp-nr0 up`)
  sh(`ip netns exec pldp-node sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1`)
  // As on a real kube-proxy node: br_netfilter runs iptables for the bridged pod's frames (PREROUTING in bridge
  // context). TPROXY lost pod UDP here (ip_rcv_core() orphans the skb); REDIRECT must not. The sysctl is per netns.
  sh(`ip netns exec pldp-node sysctl -qw net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1`)
  for (const r of ['10.244.9.0/24', '10.244.2.0/24', '10.96.0.0/16']) sh(`${n} route add ${r} via 10.99.0.2`)
  for (const r of ['fd44::/64', 'fd96::/64']) sh(`${n} -6 route add ${r} via fd99::2`)
  const p = 'ip -n pldp-pod'
  sh(
    `${p} addr add 10.88.0.2/24 dev pldp-pn0 && ${p} addr add fd88::2/64 dev pldp-pn0 nodad && ${p} link set pldp-pn0 up`,
  )
  sh(`${p} route add default via 10.88.0.1 && ${p} -6 route add default via fd88::1`)
  const r = 'ip -n pldp-remote'
  sh(
    `${r} addr add 10.99.0.2/24 dev pldp-rn0 && ${r} addr add fd99::2/64 dev pldp-rn0 nodad && ${r} link set pldp-rn0 up`,
  )
  sh(`${r} addr add 10.244.9.10/32 dev lo && ${r} addr add 10.244.2.10/32 dev lo && ${r} addr add fd44::10/128 dev lo`)
  sh(`${r} route add 10.88.0.0/24 via 10.99.0.1 && ${r} -6 route add fd88::/64 via fd99::1`)
  // What kube-proxy would have installed before podlink starts.
  for (const ipt of ['iptables', 'ip6tables']) {
    const x = `ip netns exec pldp-node ${ipt}`
    sh(
      `${x} -t nat -N KUBE-SERVICES && ${x} -t nat -A PREROUTING -j KUBE-SERVICES && ${x} -t nat -A OUTPUT -j KUBE-SERVICES`,
    )
    sh(`${x} -t mangle -N KUBE-IPTABLES-HINT`)
  }
}

/** Runs the probe in a namespace and returns its one line of output. */
function probe(ns: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('ip', ['netns', 'exec', ns, NODE, PROBE, ...args], { timeout: 10_000 }, (err, out) =>
      err ? reject(err) : resolve(out.trim()),
    ),
  )
}

/** Everything a stop must give back: rules without counters, sets, policy rules and routes. */
function snapshot(): string {
  const strip = (t: string) => t.replace(/^#.*\n/gm, '').replace(/\[\d+:\d+\]/g, '')
  return [
    strip(sh('iptables-save')),
    strip(sh('ip6tables-save')),
    sh('ipset list'),
    sh('ip rule'),
    sh('ip -6 rule'),
    sh('ip route show table all'),
    sh('ip -6 route show table all'),
  ]
    .join('\n--\n')
    .split('\n')
    .filter((l) => !l.includes('fe80::')) // link-local routes the kernel adds as IPv6 links finish coming up
    .join('\n')
}

describe('dataplane in a namespace lab (real iptables-nft, ipset, br_netfilter on, UDP by REDIRECT + conntrack)', () => {
  let leave: () => void = () => {}
  let remote: ChildProcess | undefined
  let tcp: TcpCapture | undefined
  let udp: UdpCapture | undefined
  let udp6: UdpCapture | undefined
  let dp: Dataplane
  let baseline = ''
  const seenTcp: string[] = []
  const seenUdp: string[] = []

  beforeAll(async () => {
    deleteNetnsWithPrefix('pldp')
    topology()
    remote = spawn(
      'ip',
      ['netns', 'exec', 'pldp-remote', NODE, PROBE, 'serve', 'remote', '10.244.9.10,10.244.2.10,fd44::10'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    await new Promise<void>((resolve) => remote?.stdout?.once('data', () => resolve()))
    leave = enterNetns('pldp-node')
    baseline = snapshot()
    tcp = await createTcpCapture({ port: 15001 }, ({ socket, originalDst, source }) => {
      seenTcp.push(`${source.address}>${originalDst.address}:${originalDst.port}`)
      socket.end(`agent ${originalDst.address}:${originalDst.port}\n`)
    })
    const answer = (d: CapturedDatagram) => {
      seenUdp.push(`${d.src.address}>${d.originalDst.address}:${d.originalDst.port}`)
      d.reply(Buffer.from(`agent ${d.originalDst.address}:${d.originalDst.port} ${d.data}`))
    }
    udp = createUdpCapture({ port: 15002 }, answer)
    udp6 = createUdpCapture({ port: 15002, family: 6 }, answer)
    dp = createDataplane({ netfilter: await createNetfilter() }, { kubeProxy: true })
    await dp.start(exampleTables())
  })

  afterAll(async () => {
    await dp?.stop().catch(() => {})
    await tcp?.close()
    await udp?.close()
    await udp6?.close()
    leave()
    remote?.kill('SIGKILL')
    deleteNetnsWithPrefix('pldp')
  })

  it('captures TCP to an off-LAN pod IP from a pod and from the host (IPv4 and IPv6)', async () => {
    expect(await probe('pldp-pod', 'tcp', '10.244.9.10', '8080')).toBe('agent 10.244.9.10:8080')
    expect(await probe('pldp-node', 'tcp', '10.244.9.10', '80')).toBe('agent 10.244.9.10:80')
    expect(await probe('pldp-pod', 'tcp', 'fd44::10', '9443')).toBe('agent fd44::10:9443')
    expect(await probe('pldp-node', 'tcp', 'fd44::10', '443')).toBe('agent fd44::10:443')
    expect(seenTcp).toContain('10.88.0.2>10.244.9.10:8080')
    expect(seenTcp).toContain('fd88::2>fd44::10:9443')
  })

  it('captures TCP to a ClusterIP with an off-LAN endpoint, from a pod and from the host', async () => {
    expect(await probe('pldp-pod', 'tcp', '10.96.0.10', '80')).toBe('agent 10.96.0.10:80')
    expect(await probe('pldp-node', 'tcp', '10.96.0.10', '80')).toBe('agent 10.96.0.10:80')
    expect(await probe('pldp-pod', 'tcp', 'fd96::10', '80')).toBe('agent fd96::10:80')
  })

  it('runs with br_netfilter active and bridge-nf-call-iptables=1 in the node namespace (as kube-proxy needs)', () => {
    expect(sh('test -d /proc/sys/net/bridge && echo yes').trim()).toBe('yes')
    expect(sh('sysctl -n net.bridge.bridge-nf-call-iptables').trim()).toBe('1')
    expect(sh('sysctl -n net.bridge.bridge-nf-call-ip6tables').trim()).toBe('1')
  })

  it('captures pod- and host-originated UDP to an off-LAN pod IP and a ClusterIP; replies come from the original destination', async () => {
    const before = udp?.stats().flows ?? 0
    expect(await probe('pldp-pod', 'udp', '10.244.9.10', '5300')).toBe(
      'agent 10.244.9.10:5300 hi from 10.244.9.10:5300',
    )
    expect(await probe('pldp-node', 'udp', '10.244.9.10', '5301')).toBe(
      'agent 10.244.9.10:5301 hi from 10.244.9.10:5301',
    )
    expect(await probe('pldp-pod', 'udp', '10.96.0.10', '53')).toBe('agent 10.96.0.10:53 hi from 10.96.0.10:53')
    expect(await probe('pldp-node', 'udp', '10.96.0.10', '53')).toBe('agent 10.96.0.10:53 hi from 10.96.0.10:53')
    expect(seenUdp).toContain('10.88.0.2>10.244.9.10:5300')
    expect(seenUdp).toContain('10.88.0.2>10.96.0.10:53')
    // The host's datagram keeps the source routing chose (towards pldp-remote); OUTPUT REDIRECT sent it to 127.0.0.1.
    expect(seenUdp).toContain('10.99.0.1>10.96.0.10:53')
    expect((udp?.stats().flows ?? 0) - before).toBe(4)
    // The pod's flows arrived at the bridge's address, which now has a socket of its own (replies leave from it).
    expect(udp?.stats().localSockets).toBeGreaterThanOrEqual(2)
  })

  it('keeps one flow per client port and several destinations apart, over many datagrams', async () => {
    const out = await probe('pldp-pod', 'udp-multi', '10.244.9.10:7001,10.244.9.10:7002,10.96.0.10:53', '20')
    expect(out).toBe('ok 60')
  })

  it('captures pod- and host-originated UDP over IPv6', async () => {
    expect(await probe('pldp-pod', 'udp', 'fd44::10', '5353')).toBe('agent fd44::10:5353 hi from fd44::10:5353')
    expect(await probe('pldp-node', 'udp', 'fd44::10', '5354')).toBe('agent fd44::10:5354 hi from fd44::10:5354')
  })

  it('drops a datagram sent to the capture port directly (not redirected) instead of looping it', async () => {
    const dropped = udp?.stats().dropped ?? 0
    expect(await probe('pldp-pod', 'udp', '10.88.0.1', '15002')).toBe('ERR timeout')
    expect(udp?.stats().dropped).toBe(dropped + 1)
  })

  it('leaves same-LAN destinations and uncaptured ports untouched', async () => {
    const before = [seenTcp.length, seenUdp.length]
    expect(await probe('pldp-pod', 'tcp', '10.244.2.10', '80')).toBe('remote 10.244.2.10:80')
    expect(await probe('pldp-node', 'tcp', '10.244.2.10', '80')).toBe('remote 10.244.2.10:80')
    expect(await probe('pldp-pod', 'udp', '10.244.2.10', '5300')).toBe('remote echo hi from 10.244.2.10:5300')
    expect(await probe('pldp-node', 'udp', '10.244.2.10', '5300')).toBe('remote echo hi from 10.244.2.10:5300')
    expect([seenTcp.length, seenUdp.length]).toEqual(before)
  })

  it("lets the agent's marked sockets reach the real off-LAN target", async () => {
    const before = [seenTcp.length, seenUdp.length]
    const s = createMarkedTcpConnection({ host: '10.244.9.10', port: 80 })
    const got = await new Promise<string>((resolve, reject) => {
      let d = ''
      s.on('data', (b) => {
        d += b
      })
      s.on('end', () => resolve(d.trim()))
      s.on('error', reject)
    })
    expect(got).toBe('remote 10.244.9.10:80')
    const u = createMarkedUdpSocket({ family: 4 })
    const reply = await new Promise<string>((resolve) => {
      u.on('message', (m, r) => resolve(`${m} from ${r.address}:${r.port}`))
      u.send('hi', 5300, '10.244.9.10')
    })
    u.close()
    expect(reply).toBe('remote echo hi from 10.244.9.10:5300')
    expect([seenTcp.length, seenUdp.length]).toEqual(before)
  })

  it('repairs a flushed chain and goes back ahead of a re-inserted KUBE-SERVICES jump', async () => {
    sh('iptables -t nat -F PODLINK-PREROUTING')
    sh('iptables -t nat -I PREROUTING 1 -j KUBE-SERVICES')
    await dp.flush()
    expect(dp.status().lastDrift.join('\n')).toMatch(/PODLINK-PREROUTING has 0 rules/)
    const pre = parseSave(sh('iptables-save -t nat')).get('nat')?.get('PREROUTING') ?? []
    expect(pre[0]).toMatch(/-j PODLINK-PREROUTING/)
    expect(pre.filter((l) => l.includes('PODLINK'))).toHaveLength(1)
    expect(await probe('pldp-pod', 'tcp', '10.244.9.10', '8081')).toBe('agent 10.244.9.10:8081')
    sh('iptables -t nat -D PREROUTING -j KUBE-SERVICES') // back to kube-proxy's single jump
  })

  it('recovers after a syncer is SIGKILLed: rules right, no jump duplicated', async () => {
    await dp.stop()
    const child = spawn(NODE, [PROBE, 'syncer'], { stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()))
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    expect(sh('iptables-save -t nat')).toMatch(/PODLINK-PREROUTING/)
    await dp.start(exampleTables())
    for (const cmd of ['iptables-save', 'ip6tables-save']) {
      const saved = parseSave(sh(cmd))
      for (const [table, chain] of [
        ['nat', 'PREROUTING'],
        ['nat', 'OUTPUT'],
      ] as const) {
        expect(
          saved
            .get(table)
            ?.get(chain)
            ?.filter((l) => l.includes('PODLINK')),
          `${cmd} ${table} ${chain}`,
        ).toHaveLength(1)
      }
    }
    expect(sh('ip rule')).not.toMatch(/lookup 1511/)
    expect(await probe('pldp-pod', 'udp', '10.244.9.10', '5302')).toBe(
      'agent 10.244.9.10:5302 hi from 10.244.9.10:5302',
    )
  })

  it('gives back iptables, ip6tables, ipsets, ip rules and routes exactly as they were after a graceful stop', async () => {
    await dp.stop()
    expect(snapshot()).toBe(baseline)
  })
})
