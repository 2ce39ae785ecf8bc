/**
 * The I/O half of `podlink doctor`: reads the node once into NodeFacts. Every probe tolerates absence
 * (a missing binary or file is a fact, not an error); the checks decide what it means.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { release } from 'node:os'
import { gunzipSync } from 'node:zlib'
import { type AgentStatus, parsePortRange } from '@podlink/core'
import type { FileFacts, IptablesFacts, KernelFacts, NodeFacts, TcpFacts } from './node-facts.ts'

function run(cmd: string, args: readonly string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000, maxBuffer: 64 * 1024 * 1024 })
  return r.error === undefined && r.status === 0 ? `${r.stdout}${r.stderr}` : null
}

function readText(path: string): string | null {
  try {
    const buf = readFileSync(path)
    return path.endsWith('.gz') ? gunzipSync(buf).toString('utf8') : buf.toString('utf8')
  } catch {
    // Absent or unreadable: the checks report "cannot tell" for null.
    return null
  }
}

/** Parses `iptables-save` output: rule count, whether KUBE-SERVICES exists, kube-proxy's mark masks. */
export function parseIptablesSave(text: string): { rules: number; kubeServices: boolean; kubeMarkMasks: number[] } {
  const lines = text.split('\n')
  const masks = new Set<number>()
  for (const l of lines) {
    if (!l.startsWith('-A KUBE-MARK-')) continue
    const m = /--set-xmark (0x[0-9a-f]+)\/(0x[0-9a-f]+)/i.exec(l)
    if (m) masks.add(Number.parseInt(m[2]!, 16))
  }
  return {
    rules: lines.filter((l) => l.startsWith('-A ')).length,
    kubeServices: lines.some((l) => l.startsWith(':KUBE-SERVICES ')),
    kubeMarkMasks: [...masks],
  }
}

/** Parses a kernel config into CONFIG_X -> value for the set options. */
export function parseKernelConfig(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const l of text.split('\n')) {
    const m = /^(CONFIG_[A-Z0-9_]+)=(.+)$/.exec(l)
    if (m) out[m[1]!] = m[2]!
  }
  return out
}

/** Module names from modules.builtin / modules.dep lines ("kernel/net/netfilter/xt_socket.ko[.xz]: deps"). */
export function parseModuleList(text: string): string[] {
  return text
    .split('\n')
    .map((l) => /([^/\s:]+)\.ko(?:\.\w+)?:?/.exec(l)?.[1]?.replace(/-/g, '_'))
    .filter((m): m is string => m !== undefined)
}

function iptablesFacts(): IptablesFacts {
  const version = run('iptables', ['--version'])
  const defaultMode = version === null ? null : version.includes('nf_tables') ? 'nft' : 'legacy'
  const nft = run('iptables-nft-save', [])
  const legacy = run('iptables-legacy-save', [])
  const pn = nft === null ? null : parseIptablesSave(nft)
  const pl = legacy === null ? null : parseIptablesSave(legacy)
  return {
    defaultMode,
    nftRules: pn?.rules ?? null,
    legacyRules: pl?.rules ?? null,
    kubeProxyIn: [...(pn?.kubeServices ? (['nft'] as const) : []), ...(pl?.kubeServices ? (['legacy'] as const) : [])],
    kubeMarkMasks: [...(pn?.kubeMarkMasks ?? []), ...(pl?.kubeMarkMasks ?? [])],
  }
}

function kernelFacts(): KernelFacts {
  const rel = release()
  const config = readText('/proc/config.gz') ?? readText(`/boot/config-${rel}`)
  const builtin = readText(`/lib/modules/${rel}/modules.builtin`)
  const dep = readText(`/lib/modules/${rel}/modules.dep`)
  const loaded = (readText('/proc/modules') ?? '')
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((m) => m !== '')
  return {
    release: rel,
    config: config === null ? null : parseKernelConfig(config),
    loaded,
    builtin: builtin === null ? null : parseModuleList(builtin),
    loadable: dep === null ? null : parseModuleList(dep),
  }
}

function fileFacts(path: string): FileFacts {
  if (!existsSync(path)) return { path, exists: false, mode: null }
  return { path, exists: true, mode: statSync(path).mode & 0o777 }
}

/** The PSK path the agent reports, else the agent's documented default (config `mesh.pskFile`). */
export const DEFAULT_PSK_FILE = '/etc/podlink/psk/swarm.key'

export function gatherNodeFacts(input: {
  socketPath: string
  status: AgentStatus | null
  statusError: string | null
  pskFile?: string
  now: Date
}): NodeFacts {
  return {
    now: input.now,
    socketPath: input.socketPath,
    status: input.status,
    statusError: input.statusError,
    iptables: iptablesFacts(),
    ipset: run('ipset', ['--version']) !== null,
    kernel: kernelFacts(),
    psk: fileFacts(input.pskFile ?? input.status?.pskFile ?? DEFAULT_PSK_FILE),
    tcp: tcpFacts(),
  }
}

function readProc(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

export function tcpFacts(root = '/proc/sys/net/ipv4'): TcpFacts {
  return {
    timestamps: parseSysctlInt(readProc(`${root}/tcp_timestamps`)),
    portRange: parsePortRange(readProc(`${root}/ip_local_port_range`)),
  }
}

/** A sysctl holding one integer ("2\n"); null for anything else. */
export function parseSysctlInt(text: string | null): number | null {
  const t = text?.trim() ?? ''
  return /^\d+$/.test(t) ? Number(t) : null
}
