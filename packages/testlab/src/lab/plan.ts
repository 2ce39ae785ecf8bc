/**
 * Pure: topology -> the exact kernel configuration of the lab, as `ip -batch` lines, `bridge -batch`
 * lines, sysctls and iptables-restore text per namespace. The executor only runs what this returns,
 * so the layout is reviewable and testable without root.
 */
import { cidrHost, parseCidr } from '../topology/addr.ts'
import type { LabNode, Lan, Topology } from '../topology/topology.ts'
import { API_HOST, hostNs, inetNs, labNamespaces, routerHost, switchNs, vtepMac } from './names.ts'

export interface NsConfig {
  readonly sysctls: string[]
  readonly ip: string[]
  readonly bridge: string[]
  readonly iptables: string | null
  /** Delay (ms) an NFQUEUE delayer must add in this namespace, for routers with delayMs. */
  readonly delayMs: number
}

export interface LabPlan {
  readonly namespaces: readonly string[]
  /** Run in the root namespace with `ip -batch`: every veth, created straight into its two namespaces. */
  readonly links: readonly string[]
  readonly perNs: ReadonlyMap<string, NsConfig>
}

const FLANNEL_VNI = 1
const FLANNEL_PORT = 8472
const FLANNEL_MTU = 1450
export const NFQUEUE_NUM = 0

const prefixOf = (cidr: string): number => Number(cidr.split('/')[1])
/** The network address of a podCIDR: flannel puts it on flannel.1 as a /32 and uses it as the next hop. */
const netAddr = (cidr: string): string => cidr.split('/')[0]!

export function planLab(t: Topology): LabPlan {
  const inetPrefix = prefixOf(t.internet)
  const perNs = new Map<string, NsConfig>()
  const cfg = (ns: string): NsConfig => {
    let c = perNs.get(ns)
    if (!c) {
      c = { sysctls: [], ip: ['link set lo up'], bridge: [], iptables: null, delayMs: 0 }
      perNs.set(ns, c)
    }
    return c
  }
  const links: string[] = []
  const veth = (a: { ns: string; dev: string }, b: { ns: string; dev: string }): void => {
    links.push(`link add ${a.dev} netns ${a.ns} type veth peer name ${b.dev} netns ${b.ns}`)
  }

  // The internet: one bridge in its own namespace, ending in nothing.
  const inet = inetNs(t.name)
  cfg(inet).ip.push('link add br0 type bridge', 'link set br0 up')
  cfg(inet).sysctls.push(
    'net.bridge.bridge-nf-call-iptables=0',
    'net.bridge.bridge-nf-call-ip6tables=0',
    'net.ipv6.conf.all.disable_ipv6=1',
  )

  // Routes every internet host needs: LANs without NAT are routed via their router.
  const publicLanRoutes = (exceptLan?: string): string[] =>
    t.lans
      .filter((l) => l.router.nat === 'none' && l.name !== exceptLan)
      .map((l) => `route add ${l.cidr} via ${l.router.wan}`)

  const api = hostNs(t.name, API_HOST)
  veth({ ns: api, dev: 'eth0' }, { ns: inet, dev: 'api' })
  cfg(inet).ip.push('link set api master br0', 'link set api up')
  cfg(api).ip.push(`addr add ${t.apiServer.ip}/${inetPrefix} dev eth0`, 'link set eth0 up', ...publicLanRoutes())

  t.lans.forEach((lan, i) => planLan(t, lan, i, cfg, veth, publicLanRoutes(lan.name), inetPrefix))
  t.nodes.forEach((node, i) => planNode(t, node, i, cfg, veth))

  return { namespaces: labNamespaces(t), links, perNs }
}

function planLan(
  t: Topology,
  lan: Lan,
  index: number,
  cfg: (ns: string) => NsConfig,
  veth: (a: { ns: string; dev: string }, b: { ns: string; dev: string }) => void,
  routes: string[],
  inetPrefix: number,
): void {
  const sw = switchNs(t.name, lan.name)
  const gw = hostNs(t.name, routerHost(lan.name))
  const inet = inetNs(t.name)
  cfg(sw).ip.push('link add br0 type bridge', 'link set br0 up')
  cfg(sw).sysctls.push(
    'net.bridge.bridge-nf-call-iptables=0',
    'net.bridge.bridge-nf-call-ip6tables=0',
    'net.ipv6.conf.all.disable_ipv6=1',
  )
  veth({ ns: gw, dev: 'wan' }, { ns: inet, dev: `r${index}` })
  veth({ ns: gw, dev: 'lan' }, { ns: sw, dev: 'gw' })
  cfg(inet).ip.push(`link set r${index} master br0`, `link set r${index} up`)
  cfg(sw).ip.push('link set gw master br0', 'link set gw up')
  const members = t.nodes.filter((n) => n.lan === lan.name)
  const r = cfg(gw)
  r.ip.push(
    `addr add ${lan.router.wan}/${inetPrefix} dev wan`,
    `addr add ${lan.gateway}/${prefixOf(lan.cidr)} dev lan`,
    'link set wan up',
    'link set lan up',
    ...routes,
  )
  if (lan.router.nat === 'static') {
    for (const n of members) if (n.publicIP) r.ip.push(`addr add ${n.publicIP}/32 dev wan`)
  }
  r.sysctls.push('net.ipv4.ip_forward=1', 'net.ipv6.conf.all.disable_ipv6=1')
  perNsSet(cfg, gw, { iptables: routerRules(lan, members), delayMs: lan.router.delayMs })
}

function perNsSet(cfg: (ns: string) => NsConfig, ns: string, patch: Partial<NsConfig>): void {
  Object.assign(cfg(ns), patch)
}

/** The router's firewall and NAT, one mode per topology `nat` value (see TOPOLOGY.md). */
export function routerRules(lan: Lan, members: readonly LabNode[]): string {
  const nat = lan.router.nat
  const filter = [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    `:FORWARD ${nat === 'none' ? 'ACCEPT' : 'DROP'} [0:0]`,
    ':OUTPUT ACCEPT [0:0]',
  ]
  // udp-blocked drops every datagram crossing the router, before anything can accept it.
  if (nat === 'udp-blocked') filter.push('-A FORWARD -p udp -j DROP')
  filter.push('-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT', '-A FORWARD -i lan -o wan -j ACCEPT')
  if (nat === 'none') filter.push('-A FORWARD -i wan -o lan -j ACCEPT')
  if (nat === 'static') {
    for (const n of members)
      if (n.publicIP) filter.push(`-A FORWARD -i wan -o lan -d ${n.ip}/32 -m conntrack --ctstate DNAT -j ACCEPT`)
  }
  // The router itself answers pings and nothing else from outside: unsolicited packets vanish, as at a CPE.
  filter.push(
    '-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    '-A INPUT -i wan -p icmp -j ACCEPT',
    '-A INPUT -i wan -j DROP',
    'COMMIT',
  )
  const natTable = [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
  ]
  if (nat === 'static') {
    for (const n of members) {
      if (!n.publicIP) continue
      natTable.push(`-A PREROUTING -i wan -d ${n.publicIP}/32 -j DNAT --to-destination ${n.ip}`)
      natTable.push(`-A POSTROUTING -o wan -s ${n.ip}/32 -j SNAT --to-source ${n.publicIP}`)
    }
  }
  if (nat === 'symmetric') natTable.push('-A POSTROUTING -o wan -j MASQUERADE --random-fully')
  else if (nat !== 'none') natTable.push('-A POSTROUTING -o wan -j MASQUERADE')
  natTable.push('COMMIT')
  const out = [...filter, ...natTable]
  if (lan.router.delayMs > 0) {
    // Every packet crossing the WAN side waits delayMs in the NFQUEUE delayer (no sch_netem here).
    const q = `-j NFQUEUE --queue-num ${NFQUEUE_NUM} --queue-bypass`
    out.push(
      '*mangle',
      ':PREROUTING ACCEPT [0:0]',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':POSTROUTING ACCEPT [0:0]',
      `-A FORWARD -i wan ${q}`,
      `-A FORWARD -o wan ${q}`,
      `-A INPUT -i wan ${q}`,
      `-A OUTPUT -o wan ${q}`,
      'COMMIT',
    )
  }
  return `${out.join('\n')}\n`
}

function planNode(
  t: Topology,
  node: LabNode,
  index: number,
  cfg: (ns: string) => NsConfig,
  veth: (a: { ns: string; dev: string }, b: { ns: string; dev: string }) => void,
): void {
  const lan = t.lans.find((l) => l.name === node.lan)!
  const ns = hostNs(t.name, node.name)
  const sw = switchNs(t.name, lan.name)
  const laneIndex = t.nodes.filter((n) => n.lan === lan.name).indexOf(node)
  veth({ ns, dev: 'eth0' }, { ns: sw, dev: `n${laneIndex}` })
  cfg(sw).ip.push(`link set n${laneIndex} master br0`, `link set n${laneIndex} up`)
  const c = cfg(ns)
  c.sysctls.push('net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1')
  c.ip.push(
    `addr add ${node.ip}/${prefixOf(lan.cidr)} dev eth0`,
    'link set eth0 up',
    `route add default via ${lan.gateway}`,
  )

  // cni0, as the CNI bridge plugin makes it: the podCIDR's first address is the pods' gateway.
  const podCidrs = node.podCIDRs.map((s) => parseCidr(s)).filter((x) => typeof x !== 'string')
  if (podCidrs.length > 0) {
    c.ip.push(`link add cni0 type bridge`, `link set cni0 mtu ${FLANNEL_MTU}`)
    for (const pc of podCidrs) c.ip.push(`addr add ${cidrHost(pc, 1)}/${pc.prefix} dev cni0`)
    c.ip.push('link set cni0 up')
  }
  t.pods
    .filter((p) => p.node === node.name)
    .forEach((pod) => {
      const pns = hostNs(t.name, pod.name)
      const dev = `vp${t.pods.indexOf(pod)}`
      veth({ ns: pns, dev: 'eth0' }, { ns, dev })
      c.ip.push(`link set ${dev} master cni0`, `link set ${dev} up`)
      const pc = cfg(pns)
      pc.ip.push(`link set eth0 mtu ${FLANNEL_MTU}`)
      pod.ips.forEach((ip) => {
        const cidr = podCidrs.find((x) => x.family === (ip.includes(':') ? 6 : 4))!
        pc.ip.push(`addr add ${ip}/${cidr.prefix} dev eth0`)
      })
      pc.ip.push('link set eth0 up')
      for (const cidr of podCidrs)
        pc.ip.push(`route add ${cidr.family === 6 ? '::/0' : 'default'} via ${cidrHost(cidr, 1)}`)
      // Duplicate address detection would hold the pod's IPv6 address back for a second or more.
      pc.sysctls.push(
        'net.ipv6.conf.all.accept_dad=0',
        'net.ipv6.conf.default.accept_dad=0',
        'net.ipv6.conf.eth0.accept_dad=0',
      )
    })

  // flannel.1, as flanneld's vxlan backend programs it: VTEP, then per peer a route, a neighbour and an FDB entry.
  const v4 = podCidrs.find((x) => x.family === 4)
  if (!v4) return
  c.ip.push(
    `link add flannel.1 type vxlan id ${FLANNEL_VNI} local ${node.ip} dev eth0 dstport ${FLANNEL_PORT} nolearning`,
    `link set flannel.1 address ${vtepMac(index)} mtu ${FLANNEL_MTU}`,
    'link set flannel.1 up',
    `addr add ${netAddr(v4.text)}/32 dev flannel.1`,
  )
  // A podCIDR claimed twice (a conflict the agents must report) gets one route, as the kernel allows no more.
  const routed = new Set<string>([v4.text])
  t.nodes.forEach((peer, j) => {
    if (peer.name === node.name) return
    if (t.flannel === 'same-lan' && peer.lan !== node.lan) return
    const peerV4 = peer.podCIDRs.find((s) => !s.includes(':'))
    if (!peerV4 || routed.has(peerV4)) return
    routed.add(peerV4)
    c.ip.push(
      `route add ${peerV4} via ${netAddr(peerV4)} dev flannel.1 onlink`,
      `neigh add ${netAddr(peerV4)} lladdr ${vtepMac(j)} dev flannel.1 nud permanent`,
    )
    c.bridge.push(`fdb append ${vtepMac(j)} dev flannel.1 dst ${peer.ip} self permanent`)
  })
}
