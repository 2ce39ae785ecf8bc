/** `pnpm lab down`: removes every namespace, link, process and state file of a lab, even after a killed `up`. */
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { isAlive } from './daemons.ts'
import { nsPrefix, stateDir } from './names.ts'
import { run, runSync } from './run-cmd.ts'

export function existingLabNamespaces(lab: string): string[] {
  const out = runSync(['ip', 'netns', 'list'], { allowFail: true }).stdout
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((ns) => ns.startsWith(nsPrefix(lab)))
}

export interface DownReport {
  readonly namespaces: number
  readonly processes: number
  readonly ms: number
}

export async function labDown(lab: string): Promise<DownReport> {
  const started = performance.now()
  const dir = stateDir(lab)
  let recorded: string[] = []
  try {
    recorded = JSON.parse(readFileSync(`${dir}/namespaces.json`, 'utf8')) as string[]
  } catch {}
  const live = new Set(existingLabNamespaces(lab))
  const namespaces = [...new Set([...recorded, ...live])].filter((ns) => live.has(ns))

  // Every process inside our namespaces: SIGTERM so agents can clean up, then SIGKILL what stays.
  const pids = new Set<number>()
  for (const ns of namespaces) {
    for (const p of runSync(['ip', 'netns', 'pids', ns], { allowFail: true }).stdout.split(/\s+/)) {
      if (/^\d+$/.test(p)) pids.add(Number(p))
    }
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM')
    } catch {}
  }
  const deadline = Date.now() + 3000
  while ([...pids].some(isAlive) && Date.now() < deadline) await sleep(20)
  for (const pid of pids) {
    if (!isAlive(pid)) continue
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  while ([...pids].some(isAlive)) await sleep(10)

  if (namespaces.length > 0) {
    await run(['ip', '-force', '-batch', '-'], {
      input: namespaces.map((ns) => `netns del ${ns}`).join('\n'),
      allowFail: true,
    })
  }
  const left = existingLabNamespaces(lab)
  if (left.length > 0) throw new Error(`Cannot take lab ${lab} down as namespaces remain: ${left.join(' ')}`)
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true })
  return { namespaces: namespaces.length, processes: pids.size, ms: Math.round(performance.now() - started) }
}
