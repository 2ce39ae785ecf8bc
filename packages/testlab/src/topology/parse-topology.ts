import { PodlinkError } from '@podlink/core'
import { parse as parseYaml } from 'yaml'
import {
  type Cidr,
  cidrContains,
  cidrHost,
  cidrOverlaps,
  cidrSize,
  isNetworkOrBroadcast,
  parseCidr,
  parseIp,
} from './addr.ts'
import {
  type FlannelMode,
  type LabNode,
  type LabPod,
  type LabService,
  type LabServicePort,
  type Lan,
  NAT_MODES,
  type NatMode,
  type ServeSpec,
  type Topology,
  type TopologyResult,
} from './topology.ts'

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/
/** Host names become namespace names and `pnpm lab exec` targets: DNS-1123 subdomains, 63 chars at most. */
const HOST_RE = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/
const LAN_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,14}[A-Za-z0-9])?$/
const DEFAULT_API_PORT = 6443

type Raw = Record<string, unknown>
const isObj = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Parses and validates a topology file's text; never throws for bad content. */
export function parseTopology(text: string): TopologyResult {
  let raw: unknown
  try {
    raw = parseYaml(text)
  } catch (err) {
    return { ok: false, problems: [`file: not valid YAML: ${(err as Error).message.split('\n')[0]}`], warnings: [] }
  }
  return validateTopology(raw)
}

/** Parses and validates, or throws one PodlinkError whose message lists every problem. */
export function loadTopologyText(text: string, source = 'topology'): { topology: Topology; warnings: string[] } {
  const r = parseTopology(text)
  if (!r.ok) {
    throw new PodlinkError(
      'ERR_BAD_TOPOLOGY',
      `Cannot use ${source} as it has ${r.problems.length} problem(s):\n${r.problems.map((p) => `  ${p}`).join('\n')}`,
    )
  }
  return { topology: r.topology, warnings: [...r.warnings] }
}

export function validateTopology(raw: unknown): TopologyResult {
  const problems: string[] = []
  const warnings: string[] = []
  const bad = (path: string, msg: string): void => {
    problems.push(`${path}: ${msg}`)
  }
  if (!isObj(raw)) return { ok: false, problems: ['file: the topology must be a YAML mapping'], warnings }
  unknownKeys(
    raw,
    '',
    ['name', 'internet', 'publicRanges', 'apiServer', 'lans', 'nodes', 'pods', 'services', 'flannel'],
    bad,
  )

  const name = str(raw.name, 'name', bad)
  if (name !== null && !NAME_RE.test(name))
    bad('name', `${JSON.stringify(name)} must be [a-z0-9-], at most 12 characters`)
  const internet = cidrField(raw.internet, 'internet', bad, 4)
  const publicRanges: string[] = []
  if (raw.publicRanges !== undefined) {
    if (!Array.isArray(raw.publicRanges)) bad('publicRanges', 'must be a list of CIDRs')
    else
      raw.publicRanges.forEach((r, i) => {
        const c = cidrField(r, `publicRanges[${i}]`, bad)
        if (c) publicRanges.push(c.text)
      })
  }

  // Every address on the internet bridge, to catch two hosts claiming one.
  const internetAddrs = new Map<string, string>()
  const claimInternet = (ip: string, path: string): void => {
    if (internet && !cidrContains(internet, ip)) bad(path, `${ip} is outside internet (${internet.text})`)
    const other = internetAddrs.get(ip)
    if (other) bad(path, `${ip} is already used by ${other}`)
    else internetAddrs.set(ip, path)
    if (internet && isNetworkOrBroadcast(internet, ip))
      bad(path, `${ip} is the network or broadcast address of internet`)
  }

  let apiServer = { ip: '', port: DEFAULT_API_PORT }
  if (!isObj(raw.apiServer)) bad('apiServer', 'is required: { ip: <address on the internet> }')
  else {
    unknownKeys(raw.apiServer, 'apiServer.', ['ip', 'port'], bad)
    const ip = ipField(raw.apiServer.ip, 'apiServer.ip', bad, 4)
    if (ip) claimInternet(ip, 'apiServer.ip')
    const port =
      raw.apiServer.port === undefined ? DEFAULT_API_PORT : portField(raw.apiServer.port, 'apiServer.port', bad)
    apiServer = { ip: ip ?? '', port: port ?? DEFAULT_API_PORT }
  }

  const hostNames = new Map<string, string>([['apiserver', 'apiServer']])
  const claimHost = (host: string, path: string): void => {
    const other = hostNames.get(host)
    if (other) bad(path, `${JSON.stringify(host)} is already the name of ${other}`)
    else hostNames.set(host, path)
  }

  const lans: Lan[] = []
  const lanCidrs = new Map<string, Cidr>()
  list(raw.lans, 'lans', bad, true).forEach((l, i) => {
    const p = `lans[${i}]`
    if (!isObj(l)) return bad(p, 'must be a mapping { name, cidr, router }')
    unknownKeys(l, `${p}.`, ['name', 'cidr', 'router'], bad)
    const lname = str(l.name, `${p}.name`, bad)
    if (lname !== null && !LAN_RE.test(lname))
      bad(`${p}.name`, `${JSON.stringify(lname)} must be letters, digits and -, at most 16`)
    if (lname !== null && lans.some((x) => x.name === lname))
      bad(`${p}.name`, `duplicate lan name ${JSON.stringify(lname)}`)
    const cidr = cidrField(l.cidr, `${p}.cidr`, bad, 4)
    if (cidr && cidr.prefix > 30) bad(`${p}.cidr`, `${cidr.text} is too small for a router and a node`)
    if (cidr && internet && cidrOverlaps(cidr, internet))
      bad(`${p}.cidr`, `${cidr.text} overlaps internet (${internet.text})`)
    let router: Lan['router'] = { wan: '', nat: 'cone', delayMs: 0 }
    if (!isObj(l.router)) bad(`${p}.router`, 'is required: { wan, nat }')
    else {
      unknownKeys(l.router, `${p}.router.`, ['wan', 'nat', 'delayMs'], bad)
      const wan = ipField(l.router.wan, `${p}.router.wan`, bad, 4)
      if (wan) claimInternet(wan, `${p}.router.wan`)
      let nat: NatMode = 'cone'
      if (typeof l.router.nat !== 'string' || !NAT_MODES.includes(l.router.nat as NatMode)) {
        bad(`${p}.router.nat`, `${JSON.stringify(l.router.nat)} is not one of ${NAT_MODES.join(', ')}`)
      } else nat = l.router.nat as NatMode
      let delayMs = 0
      if (l.router.delayMs !== undefined) {
        const d = l.router.delayMs
        if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > 10_000) {
          bad(`${p}.router.delayMs`, `${JSON.stringify(d)} must be a whole number of milliseconds from 0 to 10000`)
        } else delayMs = d
      }
      router = { wan: wan ?? '', nat, delayMs }
    }
    if (lname !== null) claimHost(`gw-${lname}`, `${p} (its router gw-${lname})`)
    if (lname === null || !cidr) return
    lanCidrs.set(lname, cidr)
    lans.push({ name: lname, cidr: cidr.text, gateway: cidrHost(cidr, 1), router })
  })
  // A LAN without NAT is routed on the internet: its range must be unique there.
  for (const [i, a] of lans.entries()) {
    for (const b of lans.slice(i + 1)) {
      const ca = lanCidrs.get(a.name)!
      const cb = lanCidrs.get(b.name)!
      if (!cidrOverlaps(ca, cb)) continue
      if (a.router.nat === 'none' || b.router.nat === 'none') {
        const which = a.router.nat === 'none' ? a : b
        const other = which === a ? b : a
        bad(
          `lans[${lans.indexOf(which)}].cidr`,
          `${which.cidr} overlaps lan ${other.name} (${other.cidr}) and a nat: none LAN is routed on the internet`,
        )
      }
    }
  }

  const nodes: LabNode[] = []
  const nodeIps = new Map<string, string>()
  const podCidrsOf = new Map<string, Cidr[]>()
  list(raw.nodes, 'nodes', bad, true).forEach((n, i) => {
    const p = `nodes[${i}]`
    if (!isObj(n)) return bad(p, 'must be a mapping { name, lan, ip, podCIDR }')
    unknownKeys(
      n,
      `${p}.`,
      ['name', 'lan', 'ip', 'publicIP', 'podCIDR', 'podCIDRs', 'labels', 'annotations', 'agent'],
      bad,
    )
    const nname = str(n.name, `${p}.name`, bad)
    if (nname !== null) {
      if (!HOST_RE.test(nname))
        bad(`${p}.name`, `${JSON.stringify(nname)} is not a valid node name (lowercase DNS name)`)
      claimHost(nname, p)
    }
    const lanName = str(n.lan, `${p}.lan`, bad)
    const lan = lans.find((l) => l.name === lanName)
    if (lanName !== null && !lan && !problems.some((x) => x.startsWith('lans')))
      bad(`${p}.lan`, `unknown lan ${JSON.stringify(lanName)}`)
    const ip = ipField(n.ip, `${p}.ip`, bad, 4)
    if (ip && lan) {
      const lc = lanCidrs.get(lan.name)!
      if (!cidrContains(lc, ip)) bad(`${p}.ip`, `${ip} is outside lan ${lan.name} (${lan.cidr})`)
      else if (ip === lan.gateway) bad(`${p}.ip`, `${ip} is the router address of lan ${lan.name}`)
      else if (isNetworkOrBroadcast(lc, ip))
        bad(`${p}.ip`, `${ip} is the network or broadcast address of lan ${lan.name}`)
      const key = `${lan.name}/${ip}`
      if (nodeIps.has(key)) bad(`${p}.ip`, `${ip} is already used in lan ${lan.name} by ${nodeIps.get(key)}`)
      else nodeIps.set(key, p)
    }
    let publicIP: string | null = null
    if (n.publicIP !== undefined) {
      publicIP = ipField(n.publicIP, `${p}.publicIP`, bad, 4)
      if (publicIP) {
        if (lan && lan.router.nat !== 'static')
          bad(`${p}.publicIP`, `only a node in a nat: static lan has a publicIP (lan ${lan.name} is ${lan.router.nat})`)
        claimInternet(publicIP, `${p}.publicIP`)
      }
    }
    const cidrs: Cidr[] = []
    if (n.podCIDR !== undefined && n.podCIDRs !== undefined) bad(`${p}`, 'give podCIDR or podCIDRs, not both')
    const rawCidrs =
      n.podCIDRs !== undefined
        ? list(n.podCIDRs, `${p}.podCIDRs`, bad, false)
        : n.podCIDR !== undefined
          ? [n.podCIDR]
          : []
    rawCidrs.forEach((c, j) => {
      const path = n.podCIDRs !== undefined ? `${p}.podCIDRs[${j}]` : `${p}.podCIDR`
      const cidr = cidrField(c, path, bad)
      if (!cidr) return
      if (cidr.family === 4 && cidr.prefix > 29) bad(path, `${cidr.text} is too small for a bridge and pods`)
      if (cidrs.some((x) => x.family === cidr.family)) bad(path, `a node has at most one podCIDR per IP family`)
      cidrs.push(cidr)
    })
    const labels = stringMap(n.labels, `${p}.labels`, bad)
    const annotations = stringMap(n.annotations, `${p}.annotations`, bad)
    let agent = true
    if (n.agent !== undefined) {
      if (typeof n.agent !== 'boolean') bad(`${p}.agent`, 'must be true or false')
      else agent = n.agent
    }
    if (nname === null || !lan || !ip) return
    podCidrsOf.set(nname, cidrs)
    nodes.push({
      name: nname,
      lan: lan.name,
      ip,
      publicIP,
      podCIDRs: cidrs.map((c) => c.text),
      labels,
      annotations,
      agent,
    })
  })
  for (const [i, a] of nodes.entries()) {
    for (const b of nodes.slice(i + 1)) {
      for (const ca of podCidrsOf.get(a.name) ?? []) {
        for (const cb of podCidrsOf.get(b.name) ?? []) {
          if (cidrOverlaps(ca, cb))
            warnings.push(
              `nodes ${a.name} and ${b.name}: podCIDRs ${ca.text} and ${cb.text} overlap (a conflict the agents must report)`,
            )
        }
      }
    }
  }
  for (const n of nodes) {
    if (n.podCIDRs.length === 0) warnings.push(`node ${n.name} has no podCIDR (it can run no pods)`)
  }

  const pods = validatePods(raw.pods, nodes, podCidrsOf, claimHost, bad)
  const services = validateServices(raw.services, bad)

  let flannel: FlannelMode = 'all-nodes'
  if (raw.flannel !== undefined) {
    if (raw.flannel !== 'all-nodes' && raw.flannel !== 'same-lan')
      bad('flannel', `${JSON.stringify(raw.flannel)} is not one of all-nodes, same-lan`)
    else flannel = raw.flannel
  }

  if (problems.length > 0 || name === null || !internet) return { ok: false, problems, warnings }
  const topology: Topology = {
    name,
    internet: internet.text,
    publicRanges,
    apiServer,
    lans,
    nodes,
    pods,
    services,
    flannel,
  }
  return { ok: true, topology, warnings }
}

function validatePods(
  rawPods: unknown,
  nodes: readonly LabNode[],
  podCidrsOf: ReadonlyMap<string, Cidr[]>,
  claimHost: (host: string, path: string) => void,
  bad: (path: string, msg: string) => void,
): LabPod[] {
  const pods: LabPod[] = []
  const used = new Map<string, string>()
  const next = new Map<string, bigint>() // per podCIDR: next offset to hand out (.2 first; .1 is cni0)
  const entries = list(rawPods, 'pods', bad, false)
  // Explicit addresses are reserved first, so that automatic ones skip them whatever the order.
  entries.forEach((pod, i) => {
    if (isObj(pod) && typeof pod.ip === 'string') used.set(pod.ip, `pods[${i}]`)
  })
  entries.forEach((pod, i) => {
    const p = `pods[${i}]`
    if (!isObj(pod)) return bad(p, 'must be a mapping { name, node }')
    unknownKeys(pod, `${p}.`, ['name', 'namespace', 'node', 'ip', 'labels', 'serve'], bad)
    const pname = str(pod.name, `${p}.name`, bad)
    if (pname !== null) {
      if (!HOST_RE.test(pname))
        bad(`${p}.name`, `${JSON.stringify(pname)} is not a valid pod name (lowercase DNS name)`)
      claimHost(pname, p)
    }
    const namespace = pod.namespace === undefined ? 'default' : str(pod.namespace, `${p}.namespace`, bad)
    const nodeName = str(pod.node, `${p}.node`, bad)
    const node = nodes.find((n) => n.name === nodeName)
    if (nodeName !== null && !node) bad(`${p}.node`, `unknown node ${JSON.stringify(nodeName)}`)
    const cidrs = node ? (podCidrsOf.get(node.name) ?? []) : []
    if (node && cidrs.length === 0) bad(`${p}.node`, `node ${node.name} has no podCIDR to give the pod an address`)
    const ips: string[] = []
    if (pod.ip !== undefined) {
      const ip = ipField(pod.ip, `${p}.ip`, bad)
      const inCidr = ip ? cidrs.find((c) => cidrContains(c, ip)) : undefined
      if (ip && node && cidrs.length > 0 && !inCidr)
        bad(`${p}.ip`, `${ip} is outside the podCIDRs of node ${node.name} (${node.podCIDRs.join(', ')})`)
      if (ip && inCidr && (ip === cidrHost(inCidr, 1) || isNetworkOrBroadcast(inCidr, ip)))
        bad(`${p}.ip`, `${ip} is reserved in ${inCidr.text} (network, broadcast or the cni0 bridge)`)
      if (ip && inCidr) ips.push(ip)
    }
    for (const c of cidrs) {
      if (ips.some((ip) => cidrContains(c, ip))) continue
      let off = next.get(c.text) ?? 2n
      while (off < cidrSize(c) - 1n && used.has(cidrHost(c, Number(off)))) off++
      if (off >= cidrSize(c) - 1n) {
        bad(p, `podCIDR ${c.text} of node ${node?.name} has no free address left`)
        continue
      }
      const ip = cidrHost(c, Number(off))
      used.set(ip, p)
      next.set(c.text, off + 1n)
      ips.push(ip)
    }
    const labels = stringMap(pod.labels, `${p}.labels`, bad)
    const serve: ServeSpec[] = []
    list(pod.serve, `${p}.serve`, bad, false).forEach((s, j) => {
      const m = typeof s === 'string' ? /^(tcp|udp)\/(\d{1,5})$/.exec(s) : null
      const port = m ? Number(m[2]) : 0
      if (!m || port < 1 || port > 65535)
        return bad(`${p}.serve[${j}]`, `${JSON.stringify(s)} must be tcp/PORT or udp/PORT`)
      if (serve.some((x) => x.protocol === m[1] && x.port === port))
        return bad(`${p}.serve[${j}]`, `${s} is listed twice`)
      serve.push({ protocol: m[1] as 'tcp' | 'udp', port })
    })
    if (pname === null || !node || namespace === null) return
    pods.push({ name: pname, namespace, node: node.name, ips, labels, serve })
  })
  return pods
}

function validateServices(rawServices: unknown, bad: (path: string, msg: string) => void): LabService[] {
  const services: LabService[] = []
  const clusterIPs = new Map<string, string>()
  list(rawServices, 'services', bad, false).forEach((s, i) => {
    const p = `services[${i}]`
    if (!isObj(s)) return bad(p, 'must be a mapping { name, clusterIP, selector, ports }')
    unknownKeys(s, `${p}.`, ['name', 'namespace', 'clusterIP', 'selector', 'ports', 'sessionAffinity'], bad)
    const name = str(s.name, `${p}.name`, bad)
    if (name !== null && !/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name))
      bad(`${p}.name`, `${JSON.stringify(name)} is not a valid Service name`)
    const namespace = s.namespace === undefined ? 'default' : str(s.namespace, `${p}.namespace`, bad)
    if (name !== null && services.some((x) => x.name === name && x.namespace === namespace))
      bad(`${p}.name`, `duplicate Service ${namespace}/${name}`)
    const clusterIP = ipField(s.clusterIP, `${p}.clusterIP`, bad)
    if (clusterIP) {
      if (clusterIPs.has(clusterIP))
        bad(`${p}.clusterIP`, `${clusterIP} is already the clusterIP of ${clusterIPs.get(clusterIP)}`)
      clusterIPs.set(clusterIP, p)
    }
    const selector = stringMap(s.selector, `${p}.selector`, bad)
    let sessionAffinity: 'None' | 'ClientIP' = 'None'
    if (s.sessionAffinity !== undefined) {
      if (s.sessionAffinity !== 'None' && s.sessionAffinity !== 'ClientIP')
        bad(`${p}.sessionAffinity`, 'must be None or ClientIP')
      else sessionAffinity = s.sessionAffinity
    }
    const ports: LabServicePort[] = []
    list(s.ports, `${p}.ports`, bad, true).forEach((port, j) => {
      const pp = `${p}.ports[${j}]`
      if (!isObj(port)) return bad(pp, 'must be a mapping { port, targetPort, protocol }')
      unknownKeys(port, `${pp}.`, ['name', 'port', 'targetPort', 'protocol'], bad)
      const num = portField(port.port, `${pp}.port`, bad)
      let target: number | string | null = num
      if (port.targetPort !== undefined) {
        target =
          typeof port.targetPort === 'string' && /^[a-z]([a-z0-9-]{0,13}[a-z0-9])?$/.test(port.targetPort)
            ? port.targetPort
            : portField(port.targetPort, `${pp}.targetPort`, bad)
      }
      let protocol: 'TCP' | 'UDP' = 'TCP'
      if (port.protocol === undefined) bad(`${pp}.protocol`, 'is required (TCP or UDP)')
      else if (port.protocol !== 'TCP' && port.protocol !== 'UDP')
        bad(`${pp}.protocol`, `${JSON.stringify(port.protocol)} is not supported (TCP or UDP)`)
      else protocol = port.protocol
      const pname = port.name === undefined ? '' : str(port.name, `${pp}.name`, bad)
      if (num === null || target === null || pname === null) return
      if (ports.some((x) => x.port === num && x.protocol === protocol))
        bad(`${pp}.port`, `${num}/${protocol} is listed twice`)
      ports.push({ name: pname, port: num, targetPort: target, protocol })
    })
    if (ports.length > 1 && ports.some((x) => x.name === ''))
      bad(`${p}.ports`, 'every port needs a name when a Service has more than one')
    if (name === null || namespace === null || !clusterIP) return
    services.push({ name, namespace, clusterIP, selector, ports, sessionAffinity })
  })
  return services
}

function unknownKeys(
  obj: Raw,
  prefix: string,
  known: readonly string[],
  bad: (path: string, msg: string) => void,
): void {
  for (const k of Object.keys(obj))
    if (!known.includes(k)) bad(`${prefix}${k}`, `unknown field (known: ${known.join(', ')})`)
}

function str(v: unknown, path: string, bad: (path: string, msg: string) => void): string | null {
  if (typeof v === 'string' && v.length > 0) return v
  bad(path, v === undefined ? 'is required' : `${JSON.stringify(v)} must be a non-empty string`)
  return null
}

function list(v: unknown, path: string, bad: (path: string, msg: string) => void, required: boolean): unknown[] {
  if (v === undefined || v === null) {
    if (required) bad(path, 'is required (a list)')
    return []
  }
  if (!Array.isArray(v)) {
    bad(path, 'must be a list')
    return []
  }
  if (required && v.length === 0) bad(path, 'must not be empty')
  return v
}

function ipField(v: unknown, path: string, bad: (path: string, msg: string) => void, family?: 4 | 6): string | null {
  const ip = typeof v === 'string' ? parseIp(v) : null
  if (!ip) {
    bad(path, v === undefined ? 'is required' : `${JSON.stringify(v)} is not an IP address`)
    return null
  }
  if (family && ip.family !== family) {
    bad(path, `${v} must be an IPv${family} address`)
    return null
  }
  return v as string
}

function cidrField(v: unknown, path: string, bad: (path: string, msg: string) => void, family?: 4 | 6): Cidr | null {
  if (v === undefined) {
    bad(path, 'is required')
    return null
  }
  const c = parseCidr(v as string)
  if (typeof c === 'string') {
    bad(path, c)
    return null
  }
  if (family && c.family !== family) {
    bad(path, `${c.text} must be an IPv${family} CIDR`)
    return null
  }
  return c
}

function portField(v: unknown, path: string, bad: (path: string, msg: string) => void): number | null {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535) return v
  bad(path, v === undefined ? 'is required' : `${JSON.stringify(v)} is not a port (1-65535)`)
  return null
}

function stringMap(v: unknown, path: string, bad: (path: string, msg: string) => void): Record<string, string> {
  if (v === undefined || v === null) return {}
  if (!isObj(v)) {
    bad(path, 'must be a mapping of strings')
    return {}
  }
  const out: Record<string, string> = {}
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') bad(`${path}.${k}`, `${JSON.stringify(val)} must be a string (quote it)`)
    else out[k] = val
  }
  return out
}
