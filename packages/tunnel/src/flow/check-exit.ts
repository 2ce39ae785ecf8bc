import type { L4Protocol } from '@podlink/core'
import { ipFamily, unmapIPv4 } from '../net/ip-bytes.ts'
import { createIpRangeSet, type IpRangeSet } from '../net/ip-range-set.ts'
import type { FlowResult } from './flow-types.ts'

/** What this node lets a peer reach. Plain data, rebuilt by the agent when the cluster view changes. */
export interface ExitPolicy {
  /** This node's podCIDRs: any address inside is a pod this node may dial for a peer. */
  readonly ownPodCIDRs: readonly string[]
  /** Service endpoints this node serves (hostNetwork ones included), as `endpointKey(protocol, ip, port)`. */
  readonly servedEndpoints: ReadonlySet<string>
  /** This node's own addresses (InternalIP, ExternalIP, LAN and WAN addresses, CIDRs allowed): never reachable. */
  readonly forbidden: readonly string[]
}

export interface ExitDestination {
  readonly protocol: L4Protocol
  readonly ip: string
  readonly port: number
  /** The sender claims `ip:port` is a Service endpoint (flow header's service flag). */
  readonly service: boolean
}

/**
 * Never an exit destination whatever the policy says: loopback (the agent's own ports), unspecified, link-local
 * (169.254.169.254 and fd00:ec2::254 are cloud metadata services holding node credentials), multicast,
 * broadcast and reserved space.
 */
const ALWAYS_FORBIDDEN = [
  '0.0.0.0/8',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  '::1/128',
  'fe80::/10',
  'ff00::/8',
  'fd00:ec2::254/128',
]
const alwaysForbidden = createIpRangeSet(ALWAYS_FORBIDDEN)

export function endpointKey(protocol: L4Protocol, ip: string, port: number): string {
  return `${protocol}/${unmapIPv4(ip).toLowerCase()}/${port}`
}

interface CompiledPolicy {
  readonly pods: IpRangeSet
  readonly node: IpRangeSet
}

/** Compiled range sets per policy object: policies are immutable values, so the cache never goes stale. */
const compiled = new WeakMap<ExitPolicy, CompiledPolicy>()

function compile(policy: ExitPolicy): CompiledPolicy {
  let c = compiled.get(policy)
  if (c === undefined) {
    c = { pods: createIpRangeSet(policy.ownPodCIDRs), node: createIpRangeSet(policy.forbidden) }
    compiled.set(policy, c)
  }
  return c
}

/**
 * Decide whether a peer may reach `dst` through this node. Order, and why:
 * 1. always-forbidden ranges: no policy can open loopback or the metadata service;
 * 2. an exact served endpoint (protocol, ip, port): admits hostNetwork endpoints on a node address, that port only;
 * 3. the node's own addresses: a peer must not reach the node's other ports (kubelet, sshd) through us;
 * 4. the node's pod CIDRs;
 * otherwise `not-an-endpoint` for a Service flow, `not-my-pod` for a pod flow (the sender's view is stale).
 * Throws PodlinkError INVALID_CIDR if the policy holds a malformed CIDR.
 */
export function checkExit(dst: ExitDestination, policy: ExitPolicy): FlowResult {
  const ip = unmapIPv4(dst.ip)
  if (ipFamily(ip) === null || alwaysForbidden.has(ip)) return { ok: false, reason: 'forbidden-destination' }
  const c = compile(policy)
  if (policy.servedEndpoints.has(endpointKey(dst.protocol, ip, dst.port))) return { ok: true }
  if (c.node.has(ip)) return { ok: false, reason: 'forbidden-destination' }
  if (c.pods.has(ip)) return { ok: true }
  return { ok: false, reason: dst.service ? 'not-an-endpoint' : 'not-my-pod' }
}
