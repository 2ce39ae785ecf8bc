/**
 * The answer to `GET /trace?dst=IP[:PORT][/udp]`, built from what the agent already knows: the status
 * (routes, services, peers) and the dataplane's capture decision for the packet. Pure: the agent wires
 *   const d = parseDestination(q)
 *   const capture = d.port === null || !dataplaneOn ? null
 *     : tracePacket(ruleset, { dst: d.ip, dport: d.port, proto: d.protocol, hook: 'prerouting' })
 *   explainDestination(status, d, capture)
 */
import type {
  AgentStatus,
  CaptureDecision,
  DestinationTrace,
  L4Protocol,
  RouteEntry,
  ServiceEntry,
  TraceHop,
} from '@podlink/core'
import { CidrTable, formatIp, PodlinkError, parseCidr, tryParseIp } from '@podlink/core'

export interface Destination {
  readonly ip: string
  readonly port: number | null
  readonly protocol: L4Protocol
}

/** `10.0.0.5`, `10.0.0.5:80`, `10.0.0.5:53/udp`, `fd00::5`, `[fd00::5]:80/tcp`; throws ERR_BAD_DESTINATION (answer 400). */
export function parseDestination(text: string): Destination {
  const bad = (why: string): PodlinkError =>
    new PodlinkError('ERR_BAD_DESTINATION', `Cannot trace ${JSON.stringify(text)} as ${why}: use IP[:PORT][/tcp|/udp]`)
  const [hostPort = '', proto = 'tcp', ...extra] = text.trim().split('/')
  if (extra.length > 0 || (proto !== 'tcp' && proto !== 'udp')) throw bad('the protocol must be tcp or udp')
  let host = hostPort
  let portText: string | null = null
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostPort)
  if (v6) {
    host = v6[1]!
    portText = v6[2] ?? null
  } else if (hostPort.split(':').length === 2) {
    ;[host = '', portText = null] = hostPort.split(':')
  }
  const ip = tryParseIp(host)
  if (ip === null) throw bad(`${host} is not an IP address`)
  const port = portText === null ? null : Number(portText)
  if (port !== null && !(Number.isInteger(port) && port >= 1 && port <= 65535)) throw bad('the port must be 1..65535')
  return { ip: formatIp(ip), port, protocol: proto }
}

function formatDestination(d: Destination): string {
  const host = d.ip.includes(':') ? `[${d.ip}]` : d.ip
  return d.port === null ? `${d.ip}/${d.protocol}` : `${host}:${d.port}/${d.protocol}`
}

function lookupRoute(status: AgentStatus, ip: string): RouteEntry | null {
  const table = new CidrTable<RouteEntry>()
  for (const r of status.routes) table.set(parseCidr(r.cidr), r)
  return table.lookup(ip) ?? null
}

function hopFor(
  status: AgentStatus,
  target: string,
  node: string | null,
  cls: TraceHop['class'],
  why: string,
): TraceHop {
  const peer = node === null || cls !== 'mesh' ? null : (status.peers.find((p) => p.node === node) ?? null)
  if (cls !== 'mesh') return { target, node, class: cls, path: cls === 'lan' ? 'lan' : null, relay: null, reason: why }
  if (peer === null)
    return { target, node, class: cls, path: 'none', relay: null, reason: `${why}; ${node} is not a known peer` }
  const how =
    peer.path === 'none'
      ? peer.reason === null
        ? `${NOT_YET} to ${peer.node}: the first flow connects (direct, punched or relayed)`
        : `no path to ${peer.node}: ${peer.reason}`
      : (peer.reason ?? `${peer.path} to ${peer.node}`)
  return { target, node, class: cls, path: peer.path, relay: peer.relay, reason: `${why}; ${how}` }
}

/** Paths are made on demand: a member peer with no connection yet and no failure is reachable. */
const NOT_YET = 'not connected yet'
const carried = (h: TraceHop): boolean =>
  h.class === 'local' || h.class === 'lan' || (h.class === 'mesh' && (h.path !== 'none' || h.reason.includes(NOT_YET)))

export function explainDestination(
  status: AgentStatus,
  dst: Destination,
  capture: CaptureDecision | null,
): DestinationTrace {
  const destination = formatDestination(dst)
  const services: ServiceEntry[] = status.services.filter(
    (s) => s.clusterIP === dst.ip && s.protocol === dst.protocol && (dst.port === null || s.port === dst.port),
  )
  const base = { destination, ip: dst.ip, port: dst.port, protocol: dst.protocol, capture }
  if (services.length > 0) {
    const hops = services.flatMap((s) =>
      s.endpoints.map((e) =>
        hopFor(
          status,
          `${e.ip}:${e.port}`,
          e.node,
          e.class,
          `endpoint of ${s.service}${s.portName ? `:${s.portName}` : ''} (${e.class})`,
        ),
      ),
    )
    const usable = hops.filter(carried)
    const captured = capture?.captured === true
    const offLan = services.some((s) => s.offLan)
    const verdict =
      hops.length === 0
        ? 'no ready endpoint: connections are refused'
        : !offLan
          ? 'every endpoint is on this LAN: kube-proxy carries it, podlink does not capture it'
          : `${captured ? 'captured; ' : capture === null ? '' : 'NOT captured (rules out of sync?); '}the proxy picks one of ${usable.length}/${hops.length} reachable endpoint(s) per connection`
    return {
      ...base,
      kind: 'service',
      services,
      route: null,
      hops,
      verdict,
      broken: usable.length === 0 || (offLan && capture !== null && !captured),
    }
  }
  const route = lookupRoute(status, dst.ip)
  if (route === null) {
    const inService = status.services.some((s) => s.clusterIP === dst.ip)
    return {
      ...base,
      kind: inService ? 'service' : 'unknown',
      services: [],
      route: null,
      hops: [
        { target: destination, node: null, class: 'none', path: null, relay: null, reason: 'no pod CIDR covers it' },
      ],
      verdict: inService
        ? `${dst.ip} is a ClusterIP but not for ${dst.port ?? 'any port'}/${dst.protocol}`
        : 'not a pod or Service address: left to the node routing table',
      broken: inService,
    }
  }
  const target = dst.port === null ? dst.ip : destination.replace(/\/(tcp|udp)$/, '')
  const hop =
    route.class === 'conflict'
      ? { target, node: route.node, class: 'conflict' as const, path: null, relay: null, reason: route.reason }
      : hopFor(status, target, route.node, route.class, `${route.cidr} of ${route.node} (${route.class})`)
  const verdict =
    route.class === 'conflict'
      ? `not routed: ${route.reason}`
      : route.class === 'local'
        ? 'a pod on this node: delivered locally'
        : route.class === 'lan'
          ? `same LAN as ${route.node}: flannel carries it`
          : hop.path === 'none'
            ? `no path to ${route.node}: ${hop.reason}`
            : `over the mesh to ${route.node} (${hop.path === 'relay' ? `relay via ${hop.relay}` : hop.path})${capture !== null && !capture.captured ? ', but NOT captured (rules out of sync?)' : ''}`
  return {
    ...base,
    kind: 'pod',
    services: [],
    route,
    hops: [hop],
    verdict,
    broken: !carried(hop) || (route.class === 'mesh' && capture !== null && !capture.captured),
  }
}
