import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { PodlinkError } from '@podlink/core'
import { parsePunchPorts } from '@podlink/tunnel'
import { parse as parseYaml } from 'yaml'
import type { AgentConfig } from './agent-config.ts'
import { CONFIG_SCHEMA, type OptionSpec } from './config-schema.ts'

/** kube-proxy's mark bits (KUBE-MARK-MASQ 0x4000, KUBE-MARK-DROP 0x8000): ours must stay clear of them. */
const KUBE_PROXY_MARKS = 0x4000 | 0x8000

export interface ConfigSources {
  /** The config file's text, if any (YAML). */
  readonly fileText?: string
  readonly fileName?: string
  /** `--flag value` or `--flag=value` pairs, already split from the command line. */
  readonly flags?: ReadonlyMap<string, string>
  readonly env?: Readonly<Record<string, string | undefined>>
}

export type ConfigResult =
  | { readonly ok: true; readonly config: AgentConfig }
  | { readonly ok: false; readonly problems: readonly string[] }

/** Merges defaults < file < environment < flags, then validates, listing every problem by path. */
export function resolveConfig(sources: ConfigSources): ConfigResult {
  const problems: string[] = []
  const values = new Map<string, unknown>()
  for (const spec of CONFIG_SCHEMA) values.set(spec.path, spec.default)

  if (sources.fileText !== undefined) {
    let doc: unknown
    try {
      doc = parseYaml(sources.fileText)
    } catch (err) {
      return {
        ok: false,
        problems: [`${sources.fileName ?? 'config'}: not valid YAML: ${(err as Error).message.split('\n')[0]}`],
      }
    }
    if (doc !== null && doc !== undefined) {
      if (typeof doc !== 'object' || Array.isArray(doc))
        return { ok: false, problems: [`${sources.fileName ?? 'config'}: must be a YAML mapping`] }
      flatten(doc as Record<string, unknown>, '', values, problems)
    }
  }
  for (const spec of CONFIG_SCHEMA) {
    const env = sources.env?.[spec.env]
    if (env !== undefined && env !== '') values.set(spec.path, fromText(spec, env, `env ${spec.env}`, problems))
  }
  for (const [flag, text] of sources.flags ?? []) {
    const spec = CONFIG_SCHEMA.find((s) => s.flag === flag)
    if (!spec) {
      problems.push(`${flag}: unknown flag`)
      continue
    }
    values.set(spec.path, fromText(spec, text, flag, problems))
  }
  for (const spec of CONFIG_SCHEMA) checkValue(spec, values.get(spec.path), problems)
  if (problems.length > 0) return { ok: false, problems }

  const config = nest(values) as unknown as AgentConfig
  crossCheck(config, problems)
  return problems.length > 0 ? { ok: false, problems } : { ok: true, config }
}

/** resolveConfig that throws one PodlinkError listing every problem. */
export function loadConfig(sources: ConfigSources): AgentConfig {
  const r = resolveConfig(sources)
  if (!r.ok)
    throw new PodlinkError(
      'ERR_BAD_CONFIG',
      `Cannot start podlink-agent as its configuration has ${r.problems.length} problem(s):\n${r.problems.map((p) => `  ${p}`).join('\n')}`,
    )
  return r.config
}

export function readConfigFile(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new PodlinkError(
      'ERR_BAD_CONFIG',
      `Cannot read the config file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
      { cause: err },
    )
  }
}

function flatten(obj: Record<string, unknown>, prefix: string, values: Map<string, unknown>, problems: string[]): void {
  for (const [k, v] of Object.entries(obj)) {
    const path = prefix + k
    if (CONFIG_SCHEMA.some((s) => s.path === path)) values.set(path, v)
    else if (
      v !== null &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      CONFIG_SCHEMA.some((s) => s.path.startsWith(`${path}.`))
    ) {
      flatten(v as Record<string, unknown>, `${path}.`, values, problems)
    } else {
      const known = CONFIG_SCHEMA.filter(
        (s) => s.path.startsWith(prefix) && !s.path.slice(prefix.length).includes('.'),
      ).map((s) => s.path.slice(prefix.length))
      const sections = [
        ...new Set(
          CONFIG_SCHEMA.filter((s) => s.path.startsWith(prefix)).map((s) => s.path.slice(prefix.length).split('.')[0]),
        ),
      ]
      problems.push(`${path}: unknown option (known here: ${[...new Set([...known, ...sections])].join(', ')})`)
    }
  }
}

function fromText(spec: OptionSpec, text: string, where: string, problems: string[]): unknown {
  switch (spec.type.kind) {
    case 'int': {
      const n = /^0x[0-9a-f]+$/i.test(text)
        ? Number.parseInt(text, 16)
        : /^-?\d+$/.test(text)
          ? Number(text)
          : Number.NaN
      if (Number.isNaN(n)) problems.push(`${spec.path} (${where}): ${JSON.stringify(text)} is not a whole number`)
      return n
    }
    case 'bool':
      if (text === 'true' || text === 'false') return text === 'true'
      problems.push(`${spec.path} (${where}): ${JSON.stringify(text)} must be true or false`)
      return spec.default
    case 'cidrs':
    case 'strings':
      return text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    default:
      return text
  }
}

function checkValue(spec: OptionSpec, v: unknown, problems: string[]): void {
  const at = spec.path
  if (v === null) {
    if (spec.default === null && spec.path === 'nodeName')
      problems.push(`${at}: is required (set ${spec.flag} or ${spec.env})`)
    return
  }
  const t = spec.type
  switch (t.kind) {
    case 'string':
      if (typeof v !== 'string' || v === '') problems.push(`${at}: ${JSON.stringify(v)} must be a non-empty string`)
      else if (t.pattern && !t.pattern.test(v))
        problems.push(`${at}: ${JSON.stringify(v)} is not ${t.patternDoc ?? `like ${t.pattern}`}`)
      return
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < t.min || v > t.max)
        problems.push(`${at}: ${JSON.stringify(v)} must be a whole number from ${t.min} to ${t.max}`)
      return
    case 'bool':
      if (typeof v !== 'boolean') problems.push(`${at}: ${JSON.stringify(v)} must be true or false`)
      return
    case 'enum':
      if (typeof v !== 'string' || !t.values.includes(v))
        problems.push(`${at}: ${JSON.stringify(v)} is not one of ${t.values.join(', ')}`)
      return
    case 'cidrs':
    case 'strings':
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
        problems.push(`${at}: must be a list of strings`)
        return
      }
      if (t.kind === 'cidrs') {
        v.forEach((c: string, i) => {
          const [ip, len] = c.split('/')
          const fam = isIP(ip ?? '')
          if (!fam || len === undefined || !/^\d+$/.test(len) || Number(len) > (fam === 4 ? 32 : 128))
            problems.push(`${at}[${i}]: ${JSON.stringify(c)} is not a CIDR`)
        })
      }
  }
}

function crossCheck(c: AgentConfig, problems: string[]): void {
  if (c.kube.mode === 'kubeconfig' && !c.kube.kubeconfig)
    problems.push('kube.kubeconfig: is required when kube.mode is kubeconfig (set --kubeconfig or KUBECONFIG)')
  const { bypassMark, tproxyMark, tcpPort, udpPort } = c.dataplane
  if ((bypassMark & tproxyMark) !== 0)
    problems.push(
      `dataplane.tproxyMark: 0x${tproxyMark.toString(16)} overlaps dataplane.bypassMark 0x${bypassMark.toString(16)}: the agent's own datagrams would be captured again`,
    )
  for (const [name, m] of [
    ['bypassMark', bypassMark],
    ['tproxyMark', tproxyMark],
  ] as const) {
    if ((m & KUBE_PROXY_MARKS) !== 0)
      problems.push(`dataplane.${name}: 0x${m.toString(16)} overlaps kube-proxy's marks 0x4000/0x8000`)
  }
  if (tcpPort === udpPort && tcpPort === c.mesh.listenPort)
    problems.push('dataplane.tcpPort: must differ from mesh.listenPort')
  if (c.mesh.listenPort === tcpPort) problems.push(`dataplane.tcpPort: ${tcpPort} is also mesh.listenPort`)
  const observePorts = [c.mesh.listenPort + 1, c.mesh.listenPort + 2]
  if (
    c.mesh.fastPath &&
    [c.mesh.listenPort, ...observePorts, tcpPort, udpPort, c.metrics.port].includes(c.mesh.fastPort)
  )
    problems.push(
      `mesh.fastPort: ${c.mesh.fastPort} is already used by another listener (mesh.listenPort, the NAT observe ports ${observePorts.join(' and ')}, capture or metrics)`,
    )
  if (
    c.mesh.fastPath &&
    [c.mesh.listenPort, ...observePorts, tcpPort, udpPort, c.metrics.port, c.mesh.fastPort].includes(
      c.mesh.fastRelayPort,
    )
  )
    problems.push(`mesh.fastRelayPort: ${c.mesh.fastRelayPort} is already used by another listener`)
  if (c.mesh.fastPath) {
    try {
      const r = parsePunchPorts(c.mesh.fastPunchPorts)
      const listeners = [
        ...[c.mesh.listenPort, ...observePorts, tcpPort, udpPort, c.metrics.port],
        ...[c.mesh.fastPort, c.mesh.fastRelayPort],
      ]
      const clash = r === null ? undefined : listeners.find((p) => p >= r.first && p <= r.last)
      if (clash !== undefined)
        problems.push(`mesh.fastPunchPorts: ${c.mesh.fastPunchPorts} holds ${clash}, a port another listener uses`)
    } catch (err) {
      problems.push(`mesh.fastPunchPorts: ${(err as Error).message}`)
    }
  }
  if (c.metrics.port === tcpPort || c.metrics.port === c.mesh.listenPort)
    problems.push(`metrics.port: ${c.metrics.port} is already used by another listener`)
}

function nest(values: ReadonlyMap<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [path, v] of values) {
    const keys = path.split('.')
    let o = out
    for (const k of keys.slice(0, -1)) {
      o[k] ??= {}
      o = o[k] as Record<string, unknown>
    }
    o[keys[keys.length - 1]!] = v
  }
  return out
}
