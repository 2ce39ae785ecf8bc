/**
 * Background processes of the lab (API stand-in, echo servers, delayers, agents): started inside a
 * namespace, detached, logging to the state directory, tracked by pid file so that `down` and the
 * `agent`/`apiserver` commands find them from another process.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { stateDir } from './names.ts'

const pidFile = (lab: string, label: string): string => `${stateDir(lab)}/pids/${label}.pid`
export const logFile = (lab: string, label: string): string => `${stateDir(lab)}/logs/${label}.log`

export interface DaemonSpec {
  readonly lab: string
  /** Unique within the lab: `apiserver`, `echo-<pod>`, `delay-<lan>`, `agent-<node>`. */
  readonly label: string
  readonly ns: string
  readonly argv: readonly string[]
  readonly env?: Readonly<Record<string, string>>
}

export function startDaemon(spec: DaemonSpec): number {
  mkdirSync(`${stateDir(spec.lab)}/pids`, { recursive: true })
  mkdirSync(`${stateDir(spec.lab)}/logs`, { recursive: true })
  const out = openSync(logFile(spec.lab, spec.label), 'a')
  // `ip netns exec` execs the command after setns, so the pid we get is the daemon's own.
  const child = spawn('ip', ['netns', 'exec', spec.ns, ...spec.argv], {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, ...spec.env },
  })
  child.unref()
  if (child.pid === undefined) throw new Error(`Cannot start ${spec.label} in ${spec.ns}`)
  writeFileSync(pidFile(spec.lab, spec.label), `${child.pid}\n`)
  return child.pid
}

export function daemonPid(lab: string, label: string): number | null {
  try {
    const pid = Number(readFileSync(pidFile(lab, label), 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : null
  } catch {
    return null
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    // A zombie still answers kill(0); treat it as gone.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !/^\d+ \(.*\) Z/.test(stat)
  } catch {
    return false
  }
}

/** Sends `signal`, waits up to `timeoutMs` for the process to go, then SIGKILLs it. */
export async function stopDaemon(
  lab: string,
  label: string,
  signal: NodeJS.Signals = 'SIGTERM',
  timeoutMs = 5000,
): Promise<boolean> {
  const pid = daemonPid(lab, label)
  rmSync(pidFile(lab, label), { force: true })
  if (pid === null) return false
  await stopPid(pid, signal, timeoutMs)
  return true
}

export async function stopPid(pid: number, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  try {
    process.kill(pid, signal)
  } catch {
    return
  }
  const deadline = Date.now() + timeoutMs
  while (isAlive(pid) && Date.now() < deadline) await sleep(25)
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
    while (isAlive(pid)) await sleep(10)
  }
}

export function daemonLabels(lab: string): string[] {
  const dir = `${stateDir(lab)}/pids`
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((f) => f.endsWith('.pid'))
    .map((f) => f.slice(0, -4))
}

/** Waits until the daemon's log contains `marker`, or fails with the log's tail. */
export async function waitForLog(
  lab: string,
  label: string,
  marker: string | RegExp,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const file = logFile(lab, label)
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : ''
    if (typeof marker === 'string' ? text.includes(marker) : marker.test(text)) return
    if (daemonPid(lab, label) === null && Date.now() > deadline - timeoutMs + 200) {
      throw new Error(`${label} exited before it was ready:\n${text.split('\n').slice(-15).join('\n')}`)
    }
    if (Date.now() > deadline)
      throw new Error(`${label} was not ready after ${timeoutMs} ms:\n${text.split('\n').slice(-15).join('\n')}`)
    await sleep(25)
  }
}
