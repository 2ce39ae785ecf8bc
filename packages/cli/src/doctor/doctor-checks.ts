/**
 * `podlink doctor`: each check is a pure function of NodeFacts that says ok / warn / fail / skip, what it
 * saw, and how to fix it. Only `fail` makes the command exit 1: warnings are things an operator should
 * know but that do not stop the mesh.
 */
import { TIME_WAIT_S } from '@podlink/core'
import type { KernelFacts, NodeFacts } from './node-facts.ts'

export type CheckLevel = 'ok' | 'warn' | 'fail' | 'skip'

export interface CheckResult {
  readonly id: string
  readonly title: string
  readonly level: CheckLevel
  readonly detail: string
  /** What to do about it, for `warn` and `fail`. */
  readonly fix?: string
}

export type DoctorCheck = (f: NodeFacts) => CheckResult

/** The capture rules' default marks (dataplane's DEFAULT_RULESET_OPTIONS), used when the status does not say. */
export const DEFAULT_MARKS = { bypass: 0x2000, tproxy: 0x1000 } as const
/** kube-proxy's KUBE-MARK-MASQ and KUBE-MARK-DROP bits (its --iptables-masquerade-bit 14 default, and 15). */
export const KUBE_PROXY_MARKS = 0x4000 | 0x8000
/** Skew past which TLS validity windows and "since" ages start to mislead; past the fail bound, leases and tokens break. */
export const CLOCK_SKEW_WARN_MS = 2_000
export const CLOCK_SKEW_FAIL_MS = 30_000

const hex = (n: number): string => `0x${n.toString(16)}`

export const checkAgentSocket: DoctorCheck = (f) =>
  f.status !== null
    ? {
        id: 'agent',
        title: 'agent socket answers',
        level: 'ok',
        detail: `${f.socketPath}: ${f.status.node} ${f.status.version}`,
      }
    : {
        id: 'agent',
        title: 'agent socket answers',
        level: 'fail',
        detail: f.statusError ?? `no answer on ${f.socketPath}`,
        fix: 'check the podlink-agent pod on this node (kubectl -n kube-system logs ds/podlink-agent), or set PODLINK_AGENT_SOCKET',
      }

export const checkIptablesMode: DoctorCheck = (f) => {
  const t = f.iptables
  const title = 'iptables backend matches kube-proxy'
  if (t.defaultMode === null)
    return {
      id: 'iptables',
      title,
      level: 'fail',
      detail: 'no iptables binary found',
      fix: 'apt-get install iptables (or the distribution equivalent)',
    }
  const agentMode = f.status?.dataplane.iptablesMode ?? null
  if (t.kubeProxyIn.length > 1)
    return {
      id: 'iptables',
      title,
      level: 'fail',
      detail: 'KUBE-SERVICES exists in both nft and legacy tables: two kube-proxies, or leftovers from a mode switch',
      fix: 'flush the unused backend (iptables-legacy -F -t nat, or iptables-nft -F -t nat) after confirming which one kube-proxy runs',
    }
  const kube = t.kubeProxyIn[0] ?? null
  const ours = agentMode ?? t.defaultMode
  if (kube !== null && kube !== ours)
    return {
      id: 'iptables',
      title,
      level: 'fail',
      detail: `kube-proxy's rules are in ${kube} but podlink ${agentMode ? 'uses' : 'would use'} ${ours}: captures would be ordered wrongly against KUBE-SERVICES`,
      fix: `make both use ${kube}: update-alternatives --set iptables /usr/sbin/iptables-${kube}`,
    }
  const both = (t.nftRules ?? 0) > 0 && (t.legacyRules ?? 0) > 0
  return {
    id: 'iptables',
    title,
    level: both ? 'warn' : 'ok',
    detail: `iptables is ${t.defaultMode}${kube ? `, kube-proxy in ${kube}` : ', no kube-proxy rules seen'}${agentMode ? `, agent uses ${agentMode}` : ''}${both ? `; rules in both backends (nft ${t.nftRules}, legacy ${t.legacyRules})` : ''}`,
    ...(both ? { fix: 'rules in both backends are evaluated independently: remove the unused one' } : {}),
  }
}

export const checkIpset: DoctorCheck = (f) =>
  f.ipset
    ? { id: 'ipset', title: 'ipset present', level: 'ok', detail: 'ipset --version ran' }
    : {
        id: 'ipset',
        title: 'ipset present',
        level: 'fail',
        detail: 'ipset not found: the capture rules match destinations with ipsets',
        fix: 'apt-get install ipset',
      }

/** A kernel feature is there when its CONFIG is y/m, or one of its modules is loaded, built in or loadable. */
export function kernelHas(k: KernelFacts, config: string, modules: readonly string[]): boolean | null {
  const c = k.config?.[config]
  if (c === 'y' || c === 'm') return true
  const names = [...k.loaded, ...(k.builtin ?? []), ...(k.loadable ?? [])]
  if (modules.some((m) => names.includes(m))) return true
  return k.config === null && k.builtin === null && k.loadable === null ? null : false
}

/**
 * What the capture rules use: REDIRECT for TCP and UDP (TPROXY is not used: with br_netfilter on, as on every
 * Kubernetes node, its socket assignment is lost for bridged pod traffic), conntrack and its netlink interface (a
 * redirected UDP datagram's original destination is looked up there), ipsets of both types and the set match.
 */
const FEATURES = [
  {
    id: 'redirect',
    name: 'REDIRECT target (TCP and UDP capture)',
    config: 'CONFIG_NETFILTER_XT_TARGET_REDIRECT',
    modules: ['xt_REDIRECT', 'nf_nat'],
  },
  { id: 'conntrack', name: 'conntrack', config: 'CONFIG_NF_CONNTRACK', modules: ['nf_conntrack'] },
  {
    id: 'conntrack-netlink',
    name: 'conntrack netlink (UDP original destination)',
    config: 'CONFIG_NF_CT_NETLINK',
    modules: ['nf_conntrack_netlink'],
  },
  { id: 'ipset-kernel', name: 'ip_set (hash:net)', config: 'CONFIG_IP_SET_HASH_NET', modules: ['ip_set_hash_net'] },
  {
    id: 'ipset-ipport',
    name: 'ip_set (hash:ip,port)',
    config: 'CONFIG_IP_SET_HASH_IPPORT',
    modules: ['ip_set_hash_ipport'],
  },
  { id: 'xt-set', name: 'set match', config: 'CONFIG_NETFILTER_XT_SET', modules: ['xt_set'] },
] as const

export const kernelChecks: readonly DoctorCheck[] = FEATURES.map(
  (feat): DoctorCheck =>
    (f) => {
      const has = kernelHas(f.kernel, feat.config, feat.modules)
      const title = `kernel: ${feat.name}`
      if (has === true)
        return { id: feat.id, title, level: 'ok', detail: `${feat.config} or ${feat.modules.join('/')} available` }
      if (has === null)
        return {
          id: feat.id,
          title,
          level: 'warn',
          detail: `cannot tell: no /proc/config.gz, /boot/config-${f.kernel.release} or /lib/modules/${f.kernel.release}`,
          fix: `modprobe ${feat.modules[0]} and re-run, or check the kernel's config for ${feat.config}`,
        }
      return {
        id: feat.id,
        title,
        level: 'fail',
        detail: `${feat.config} is not set and no ${feat.modules.join('/')} module exists for ${f.kernel.release}`,
        fix: `use a kernel with ${feat.config}=m (on Debian/Ubuntu: install linux-modules-extra-${f.kernel.release})`,
      }
    },
)

export const checkMarks: DoctorCheck = (f) => {
  const marks = f.status?.dataplane.marks ?? DEFAULT_MARKS
  const ours = marks.bypass | marks.tproxy
  const theirs = f.iptables.kubeMarkMasks.reduce((a, m) => a | m, 0) | KUBE_PROXY_MARKS
  const title = "mark bits clear of kube-proxy's"
  if ((ours & theirs) === 0)
    return {
      id: 'marks',
      title,
      level: 'ok',
      detail: `podlink uses ${hex(marks.bypass)}/${hex(marks.tproxy)}, kube-proxy ${hex(theirs)}`,
    }
  return {
    id: 'marks',
    title,
    level: 'fail',
    detail: `podlink's ${hex(ours & theirs)} overlaps kube-proxy's mark mask ${hex(theirs)}`,
    fix: 'set --bypass-mark / --tproxy-mark (PODLINK_BYPASS_MARK, PODLINK_TPROXY_MARK) to single bits outside that mask',
  }
}

/**
 * The exit connects to a local pod from this node's own address for every remote client of that pod, so all of
 * them share one ephemeral port range per pod and port. The side that closes first keeps the port in TIME_WAIT for
 * 60 s, and under churn that is often the exit (it carries the client's FIN). The exit binds ports of its own choosing
 * with SO_REUSEADDR, which lets the kernel hand it a TIME_WAIT 4-tuple, but only when TCP timestamps are on (they
 * protect the new connection from the old one's segments). Without them, the kernel's search skips those ports: in
 * the bench lab, 20,000 TIME_WAIT to one pod cut a node's connect rate from 5,399 to 979 a second, and a full range
 * fails connect().
 */
export const checkExitPorts: DoctorCheck = (f) => {
  const title = "exit connections to pods don't run out of ports"
  const { timestamps, portRange } = f.tcp
  if (timestamps === null || portRange === null)
    return {
      id: 'exit-ports',
      title,
      level: 'skip',
      detail: 'net.ipv4.tcp_timestamps or ip_local_port_range unreadable',
    }
  const range = `ports ${portRange[0]}-${portRange[1]}`
  if (timestamps !== 0)
    return {
      id: 'exit-ports',
      title,
      level: 'ok',
      detail: `TCP timestamps on, ${range}: the exit takes over its connections' TIME_WAIT ports to pods`,
    }
  const rate = Math.floor((portRange[1] - portRange[0] + 1) / TIME_WAIT_S)
  return {
    id: 'exit-ports',
    title,
    level: 'warn',
    detail:
      `TCP timestamps off, ${range}: remote clients' connections to one pod all come from this node's address, and ` +
      `without timestamps their TIME_WAIT ports cannot be taken over, so more than ~${rate} new connections a second ` +
      `to one pod and port, kept up for ${TIME_WAIT_S} s, fill the range; connect() slows well before that (about 5x ` +
      'at 20,000 in the bench lab), then fails',
    fix: 'sysctl -w net.ipv4.tcp_timestamps=1 (the kernel default; persist it in /etc/sysctl.d/)',
  }
}

export const checkPsk: DoctorCheck = (f) => {
  const p = f.psk
  const title = 'mesh PSK file'
  if (!p.exists)
    return {
      id: 'psk',
      title,
      level: 'fail',
      detail: `${p.path} does not exist`,
      fix: 'mount the podlink-psk Secret there (see deploy/), or set --psk-file',
    }
  if (p.mode !== null && (p.mode & 0o077) !== 0)
    return {
      id: 'psk',
      title,
      level: 'fail',
      detail: `${p.path} is mode ${p.mode.toString(8).padStart(4, '0')}: readable by others`,
      fix: `chmod 0600 ${p.path} (defaultMode: 0400 on the Secret volume)`,
    }
  return { id: 'psk', title, level: 'ok', detail: `${p.path} mode ${(p.mode ?? 0).toString(8).padStart(4, '0')}` }
}

export const checkApi: DoctorCheck = (f) => {
  const title = 'Kubernetes API reachable (as the agent reports)'
  if (f.status === null) return { id: 'api', title, level: 'skip', detail: 'no agent status' }
  const v = f.status.view
  if (v.stale)
    return {
      id: 'api',
      title,
      level: 'fail',
      detail: `view is STALE: routing from the on-disk cache, last sync ${v.lastSyncAt ?? 'never'}`,
      fix: "check the node's route to the API server and the agent's logs (watch errors)",
    }
  if (!v.synced)
    return {
      id: 'api',
      title,
      level: 'warn',
      detail: 'initial sync not done yet',
      fix: 'wait a few seconds; if it persists, check the agent logs and its RBAC',
    }
  return { id: 'api', title, level: 'ok', detail: `synced, last sync ${v.lastSyncAt ?? '-'}` }
}

export const checkClockSkew: DoctorCheck = (f) => {
  const title = 'clock close to the API server'
  const skew = f.status?.view.apiClockSkewMs
  if (skew === undefined || skew === null)
    return { id: 'clock', title, level: 'skip', detail: 'the agent does not report API clock skew' }
  const abs = Math.abs(skew)
  const detail = `node is ${(abs / 1000).toFixed(1)}s ${skew > 0 ? 'behind' : 'ahead of'} the API server`
  if (abs < CLOCK_SKEW_WARN_MS) return { id: 'clock', title, level: 'ok', detail }
  return {
    id: 'clock',
    title,
    level: abs >= CLOCK_SKEW_FAIL_MS ? 'fail' : 'warn',
    detail,
    fix: 'enable time sync: timedatectl set-ntp true (or chrony)',
  }
}

export const checkDataplane: DoctorCheck = (f) => {
  const title = 'capture rules in sync'
  const d = f.status?.dataplane
  if (!d) return { id: 'dataplane', title, level: 'skip', detail: 'no agent status' }
  if (!d.enabled) return { id: 'dataplane', title, level: 'skip', detail: 'dataplane disabled' }
  if (!d.healthy)
    return {
      id: 'dataplane',
      title,
      level: 'fail',
      detail: `queued changes not applied in time${d.lastError ? `: ${d.lastError}` : ''} (${d.syncFailures} failures)`,
      fix: 'see the agent logs for the failing iptables-restore payload',
    }
  return { id: 'dataplane', title, level: 'ok', detail: `${d.ruleCount} rules, ${d.syncFailures} failures` }
}

export const DOCTOR_CHECKS: readonly DoctorCheck[] = [
  checkAgentSocket,
  checkApi,
  checkClockSkew,
  checkDataplane,
  checkIptablesMode,
  checkIpset,
  ...kernelChecks,
  checkMarks,
  checkPsk,
  checkExitPorts,
]

export function runDoctorChecks(f: NodeFacts, checks: readonly DoctorCheck[] = DOCTOR_CHECKS): CheckResult[] {
  return checks.map((c) => c(f))
}
