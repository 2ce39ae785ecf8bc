import { spawn } from 'node:child_process'
import { type IpFamily, PodlinkError } from '@podlink/core'
import type { PolicyRoute } from '../rules/ruleset.ts'

export type IptablesMode = 'nft' | 'legacy'

/**
 * Everything the syncer asks of the kernel. The real implementation runs iptables-restore, ipset and ip;
 * `@podlink/dataplane/testing` has an in-memory one. Both pass `netfilterContract`.
 */
export interface Netfilter {
  readonly mode: IptablesMode
  /** `iptables-save` / `ip6tables-save`: every table. */
  save(family: IpFamily): Promise<string>
  /** `iptables-restore --noflush`: all or nothing per table; throws `DATAPLANE_RESTORE_FAILED`. */
  restore(family: IpFamily, text: string): Promise<void>
  /** `ipset restore`; throws `DATAPLANE_IPSET_FAILED`. */
  ipsetRestore(text: string): Promise<void>
  ipsetNames(): Promise<string[]>
  /** Destroys a set; a set that does not exist is not an error. */
  ipsetDestroy(name: string): Promise<void>
  hasPolicyRoute(family: IpFamily, route: PolicyRoute): Promise<boolean>
  /** Adds the fwmark rule and the `local default dev lo` route unless present. */
  ensurePolicyRoute(family: IpFamily, route: PolicyRoute): Promise<void>
  /** Removes every rule at `route.priority` and the route table; absent ones are not an error. */
  removePolicyRoute(family: IpFamily, route: PolicyRoute): Promise<void>
}

export interface ExecResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export type Exec = (cmd: string, args: readonly string[], input?: string) => Promise<ExecResult>

/** Runs a command, optionally inside a network namespace (`ip netns exec`), feeding `input` on stdin. */
export function createExec(netns?: string): Exec {
  return (cmd, args, input) =>
    new Promise((resolve, reject) => {
      const [file, argv] = netns ? ['ip', ['netns', 'exec', netns, cmd, ...args]] : [cmd, [...args]]
      const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'] })
      const out: Buffer[] = []
      const err: Buffer[] = []
      child.stdout.on('data', (b: Buffer) => out.push(b))
      child.stderr.on('data', (b: Buffer) => err.push(b))
      child.on('error', (cause) =>
        reject(new PodlinkError('DATAPLANE_EXEC_FAILED', `Cannot run ${cmd} as it failed to start`, { cause })),
      )
      child.on('close', (code) =>
        resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
      )
      child.stdin.on('error', () => {}) // a command that exits early closes stdin; its exit code reports the failure
      child.stdin.end(input ?? '')
    })
}

/**
 * Picks the backend kube-proxy uses, the way kubernetes-sigs/iptables-wrappers does: a kubelet/kube-proxy hint
 * chain decides; otherwise the backend with more KUBE-* rules wins, and nft on a tie (also when neither has any).
 */
export function chooseIptablesMode(nftSave: string, legacySave: string): IptablesMode {
  const hint = /^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY) /m
  if (hint.test(nftSave)) return 'nft'
  if (hint.test(legacySave)) return 'legacy'
  const count = (t: string) => t.split('\n').filter((l) => l.startsWith('-A ') && l.includes('KUBE-')).length
  return count(legacySave) > count(nftSave) ? 'legacy' : 'nft'
}

export async function detectIptablesMode(exec: Exec): Promise<IptablesMode> {
  const dump = async (mode: IptablesMode) => {
    const parts = await Promise.all(
      [`iptables-${mode}-save`, `ip6tables-${mode}-save`].map((c) =>
        exec(c, []).then(
          (r) => (r.code === 0 ? r.stdout : ''),
          () => '', // that backend is not installed: it holds no rules
        ),
      ),
    )
    return parts.join('\n')
  }
  const [nft, legacy] = await Promise.all([dump('nft'), dump('legacy')])
  return chooseIptablesMode(nft, legacy)
}

export interface RealNetfilterOptions {
  /** Run every command inside this network namespace (tests and benchmarks). */
  readonly netns?: string
  /** Default: detected with `detectIptablesMode`. */
  readonly mode?: IptablesMode
}

export async function createNetfilter(options: RealNetfilterOptions = {}): Promise<Netfilter> {
  const exec = createExec(options.netns)
  const mode = options.mode ?? (await detectIptablesMode(exec))
  const bin = (family: IpFamily, verb: 'save' | 'restore') =>
    `${family === 4 ? 'iptables' : 'ip6tables'}-${mode}-${verb}`
  const must = async (code: string, what: string, cmd: string, args: string[], input?: string) => {
    const r = await exec(cmd, args, input)
    if (r.code !== 0) {
      throw new PodlinkError(code, `Cannot ${what} as ${cmd} exited ${r.code}: ${r.stderr.trim().slice(0, 2000)}`)
    }
    return r.stdout
  }
  const fam = (family: IpFamily) => (family === 4 ? '-4' : '-6')
  const ruleText = (r: PolicyRoute) => `fwmark 0x${r.mark.toString(16)}/0x${r.mask.toString(16)} lookup ${r.table}`
  return {
    mode,
    save: (family) => must('DATAPLANE_SAVE_FAILED', `read IPv${family} rules`, bin(family, 'save'), []),
    restore: async (family, text) => {
      await must(
        'DATAPLANE_RESTORE_FAILED',
        `apply IPv${family} rules`,
        bin(family, 'restore'),
        ['--noflush', '-w', '5'],
        text,
      )
    },
    ipsetRestore: async (text) => {
      await must('DATAPLANE_IPSET_FAILED', 'apply ipsets', 'ipset', ['restore'], text)
    },
    ipsetNames: async () =>
      (await must('DATAPLANE_IPSET_FAILED', 'list ipsets', 'ipset', ['list', '-n'])).split('\n').filter(Boolean),
    ipsetDestroy: async (name) => {
      const r = await exec('ipset', ['destroy', name])
      if (r.code !== 0 && !/does not exist/.test(r.stderr)) {
        throw new PodlinkError('DATAPLANE_IPSET_FAILED', `Cannot destroy ipset ${name} as ${r.stderr.trim()}`)
      }
    },
    hasPolicyRoute: async (family, route) => {
      const rules = await must('DATAPLANE_ROUTE_FAILED', 'list ip rules', 'ip', [
        fam(family),
        'rule',
        'show',
        'pref',
        `${route.priority}`,
      ])
      const routes = await exec('ip', [fam(family), 'route', 'show', 'table', `${route.table}`])
      return rules.includes(ruleText(route)) && /^local default dev lo/m.test(routes.stdout)
    },
    ensurePolicyRoute: async (family, route) => {
      const rules = await must('DATAPLANE_ROUTE_FAILED', 'list ip rules', 'ip', [
        fam(family),
        'rule',
        'show',
        'pref',
        `${route.priority}`,
      ])
      if (!rules.includes(ruleText(route))) {
        await must('DATAPLANE_ROUTE_FAILED', `add the IPv${family} fwmark rule`, 'ip', [
          fam(family),
          'rule',
          'add',
          ...ruleText(route).split(' '),
          'pref',
          `${route.priority}`,
        ])
      }
      await must('DATAPLANE_ROUTE_FAILED', `add the IPv${family} local route`, 'ip', [
        fam(family),
        'route',
        'replace',
        'local',
        'default',
        'dev',
        'lo',
        'table',
        `${route.table}`,
      ])
    },
    removePolicyRoute: async (family, route) => {
      // `ip rule del pref N` removes one rule per call; stop when none is left at that priority.
      for (let i = 0; i < 16; i++) {
        const r = await exec('ip', [fam(family), 'rule', 'del', 'pref', `${route.priority}`])
        if (r.code !== 0) break
      }
      const r = await exec('ip', [fam(family), 'route', 'flush', 'table', `${route.table}`])
      if (r.code !== 0 && !/No such|not exist|FIB table does not exist/i.test(r.stderr)) {
        throw new PodlinkError(
          'DATAPLANE_ROUTE_FAILED',
          `Cannot flush route table ${route.table} as ${r.stderr.trim()}`,
        )
      }
    },
  }
}
