/** `pnpm lab status`: hosts, addresses and processes of a running lab, from the kernel and the pid files. */
import { readdirSync, readFileSync } from 'node:fs'
import { PodlinkError } from '@podlink/core'
import type { Topology } from '../topology/topology.ts'
import { daemonLabels, daemonPid } from './daemons.ts'
import { existingLabNamespaces } from './lab-down.ts'
import { type HostKind, LAB_ROOT, labHosts, stateDir } from './names.ts'
import { runSync } from './run-cmd.ts'

export interface HostStatus {
  readonly name: string
  readonly kind: HostKind
  readonly ns: string
  readonly up: boolean
  readonly addresses: readonly string[]
}

export interface LabStatus {
  readonly name: string
  readonly hosts: readonly HostStatus[]
  readonly processes: ReadonlyArray<{ readonly label: string; readonly pid: number | null }>
}

export function runningLabs(): string[] {
  try {
    return readdirSync(LAB_ROOT).filter((d) => {
      try {
        readFileSync(`${LAB_ROOT}/${d}/topology.json`)
        return true
      } catch {
        return false
      }
    })
  } catch {
    return []
  }
}

export function loadLabTopology(lab: string): Topology {
  try {
    return JSON.parse(readFileSync(`${stateDir(lab)}/topology.json`, 'utf8')) as Topology
  } catch {
    throw new PodlinkError('ERR_NO_LAB', `Cannot find lab ${lab} as it is not up (no ${stateDir(lab)}/topology.json)`)
  }
}

/** The lab a command means: the one named, or the only one running. */
export function resolveLab(named: string | undefined): string {
  if (named) return named
  const labs = runningLabs()
  if (labs.length === 1) return labs[0]!
  if (labs.length === 0) throw new PodlinkError('ERR_NO_LAB', 'Cannot find a lab as none is up: run `pnpm lab up FILE`')
  throw new PodlinkError(
    'ERR_WHICH_LAB',
    `Cannot choose a lab as ${labs.length} are up (${labs.join(', ')}): pass --lab NAME`,
  )
}

export function labStatus(lab: string): LabStatus {
  const t = loadLabTopology(lab)
  const live = new Set(existingLabNamespaces(lab))
  const hosts = labHosts(t).map((h) => {
    const up = live.has(h.ns)
    const addresses = up
      ? runSync(['ip', '-n', h.ns, '-o', 'addr', 'show', 'scope', 'global'], { allowFail: true })
          .stdout.split('\n')
          .map((l) => l.trim().split(/\s+/))
          .filter((f) => f.length > 3)
          .map((f) => `${f[1]} ${f[3]}`)
      : []
    return { name: h.name, kind: h.kind, ns: h.ns, up, addresses }
  })
  const processes = daemonLabels(lab).map((label) => ({ label, pid: daemonPid(lab, label) }))
  return { name: lab, hosts, processes }
}

export function renderLabStatus(s: LabStatus): string {
  const lines = [`lab ${s.name}`, '', 'HOST'.padEnd(16) + 'KIND'.padEnd(11) + 'STATE'.padEnd(7) + 'ADDRESSES']
  for (const h of s.hosts) {
    lines.push(h.name.padEnd(16) + h.kind.padEnd(11) + (h.up ? 'up' : 'DOWN').padEnd(7) + h.addresses.join(', '))
  }
  lines.push('', 'PROCESS'.padEnd(24) + 'PID')
  for (const p of s.processes) lines.push(p.label.padEnd(24) + (p.pid === null ? 'exited' : String(p.pid)))
  return lines.join('\n')
}
