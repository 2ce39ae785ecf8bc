import type { AgentStatus } from '@podlink/core'

/** Which iptables backend holds rules, from `iptables-nft-save` / `iptables-legacy-save`. */
export interface IptablesFacts {
  /** The backend `iptables` resolves to (from `iptables --version`: "(nf_tables)" or "(legacy)"), or null if absent. */
  readonly defaultMode: 'nft' | 'legacy' | null
  /** Rule lines each backend holds; null when that backend's tools are not installed. */
  readonly nftRules: number | null
  readonly legacyRules: number | null
  /** Which backend kube-proxy's KUBE-SERVICES chain lives in (both when both have it), empty when neither. */
  readonly kubeProxyIn: readonly ('nft' | 'legacy')[]
  /** Masks kube-proxy sets marks with (KUBE-MARK-MASQ/DROP `--set-xmark v/mask`), as seen in the rules. */
  readonly kubeMarkMasks: readonly number[]
}

/** What the kernel offers: its config (y/m), loaded modules, built-ins and modules available to load. */
export interface KernelFacts {
  readonly release: string
  /** CONFIG_* -> 'y' | 'm' from /proc/config.gz or /boot/config-<release>; null when neither is readable. */
  readonly config: Readonly<Record<string, string>> | null
  /** Module names (underscored, no .ko) loaded (/proc/modules), built in (modules.builtin), or loadable (modules.dep). */
  readonly loaded: readonly string[]
  readonly builtin: readonly string[] | null
  readonly loadable: readonly string[] | null
}

export interface FileFacts {
  readonly path: string
  readonly exists: boolean
  /** Permission bits (mode & 0o777), null when missing. */
  readonly mode: number | null
}

/** The TCP sysctls of the node's network namespace that bound the exit's connections to local pods. */
export interface TcpFacts {
  /** net.ipv4.tcp_timestamps (0 off; 1, the default, or 2 on); null when unreadable. */
  readonly timestamps: number | null
  /** net.ipv4.ip_local_port_range; null when unreadable. */
  readonly portRange: readonly [number, number] | null
}

/**
 * Everything `podlink doctor` looks at, gathered once (by `gatherNodeFacts`) so every check is a pure
 * function of this object.
 */
export interface NodeFacts {
  readonly now: Date
  readonly socketPath: string
  readonly status: AgentStatus | null
  /** Why the agent did not answer, when it did not. */
  readonly statusError: string | null
  readonly iptables: IptablesFacts
  /** `ipset --version` ran. */
  readonly ipset: boolean
  readonly kernel: KernelFacts
  readonly psk: FileFacts
  readonly tcp: TcpFacts
}
