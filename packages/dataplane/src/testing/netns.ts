import { execFileSync } from 'node:child_process'
import { openSync } from 'node:fs'
import { PodlinkError } from '@podlink/core'
import { libc, sysError } from '../native/libc.ts'

/** Runs a shell command for lab set-up; throws with its stderr. */
export function sh(cmd: string): string {
  return execFileSync('sh', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** Runs a command and ignores failure (cleanup of things that may not exist). */
export function shQuiet(cmd: string): void {
  try {
    sh(cmd)
  } catch {
    // absent already: that is the state we wanted
  }
}

/** Deletes every network namespace and root-namespace link whose name starts with `prefix` (leftovers). */
export function deleteNetnsWithPrefix(prefix: string): void {
  if (!prefix.startsWith('pldp')) throw new Error('lab objects must be prefixed pldp')
  for (const line of sh('ip netns list || true').split('\n')) {
    const name = line.split(' ')[0] ?? ''
    if (name.startsWith(prefix)) shQuiet(`ip netns del ${name}`)
  }
  for (const line of sh('ip -o link show || true').split('\n')) {
    const name = (line.split(': ')[1] ?? '').split('@')[0] ?? ''
    if (name.startsWith(prefix)) shQuiet(`ip link del ${name}`)
  }
}

const CLONE_NEWNET = 0x40000000

/**
 * Moves this process's main thread into a named network namespace: sockets it creates afterwards live there,
 * and so do child processes. Returns the function that moves it back. Lab tests only.
 */
export function enterNetns(name: string): () => void {
  const back = openSync('/proc/thread-self/ns/net', 'r')
  const target = openSync(`/run/netns/${name}`, 'r')
  if (libc().setns(target, CLONE_NEWNET) !== 0) throw sysError('DATAPLANE_SETNS_FAILED', `enter netns ${name}`)
  return () => {
    if (libc().setns(back, CLONE_NEWNET) !== 0) {
      throw new PodlinkError('DATAPLANE_SETNS_FAILED', 'Cannot return to the original netns as setns failed')
    }
  }
}
