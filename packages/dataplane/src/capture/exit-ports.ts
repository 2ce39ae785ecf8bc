import { readFileSync } from 'node:fs'
import { parsePortRange, TIME_WAIT_S } from '@podlink/core'

/**
 * Local ports for the exit's connections to pods.
 *
 * The exit connects to its node's pods from the node's own address for every remote client, so those clients share
 * one ephemeral port range per pod and port. The exit usually closes first (it carries the client's FIN), so each
 * port spends 60 s in TIME_WAIT. The kernel's own choice (connect() without bind) skips those ports: it slows as
 * they pile up (a node's connect rate fell from 5,399 to 979 a second at 20,000 TIME_WAIT in the bench lab) and
 * fails once the range is full. A socket bound to a port it names itself, with SO_REUSEADDR, may take over a
 * TIME_WAIT 4-tuple when TCP timestamps are on (the kernel checks, and refuses otherwise): that is what these ports
 * are for.
 *
 * Binding costs a little (a node's connect + greeting to a pod: 0.128 ms bound against 0.103 ms with the kernel's
 * choice, medians of 3,000), so ports are picked only towards a destination this agent closed more than
 * `churnThreshold` connections to within the last 60 s, where TIME_WAIT is piling up; below that, `pick` says null
 * and the kernel chooses.
 *
 * `pick` draws a random port of the range that is not reserved (ip_local_reserved_ports) and not held by one of
 * this agent's live connections to the same destination; null when none turns up in a few draws (the caller then
 * lets the kernel choose). The caller holds a port for the socket's life and releases it when the socket closes;
 * `closed` counts a connection to the destination that closed (whatever its port).
 */
export interface ExitPorts {
  pick(destination: string): number | null
  closed(destination: string): void
  hold(destination: string, port: number): void
  release(destination: string, port: number): void
  /** Ports held now, all destinations. */
  readonly held: number
}

export interface ExitPortsOptions {
  /** Inclusive; default the node's ip_local_port_range. */
  readonly range?: readonly [number, number]
  /** Ports never to pick; default the node's ip_local_reserved_ports. */
  readonly reserved?: (port: number) => boolean
  /** [0, 1); default Math.random. */
  readonly random?: () => number
  /** Connections closed towards one destination within TIME_WAIT_S past which ports are picked. Default 2000. */
  readonly churnThreshold?: number
  /** Seconds; default the monotonic clock. */
  readonly nowS?: () => number
}

const DRAWS = 16

export function createExitPorts(options: ExitPortsOptions = {}): ExitPorts {
  const system = options.range === undefined || options.reserved === undefined ? readLocalPorts() : null
  const [lo, hi] = options.range ?? system!.range
  const reserved = options.reserved ?? system!.reserved
  const random = options.random ?? Math.random
  const threshold = options.churnThreshold ?? 2000
  const nowS = options.nowS ?? (() => Math.floor(performance.now() / 1000))
  const byDestination = new Map<string, Set<number>>()
  /** Closes per destination in the last TIME_WAIT_S seconds, one bucket per second (bucket i: second stamps[i]). */
  const closes = new Map<string, { counts: number[]; stamps: number[] }>()
  const recentCloses = (destination: string): number => {
    const c = closes.get(destination)
    if (c === undefined) return 0
    const now = nowS()
    let sum = 0
    for (let i = 0; i < TIME_WAIT_S; i++) if (now - c.stamps[i]! < TIME_WAIT_S) sum += c.counts[i]!
    if (sum === 0) closes.delete(destination)
    return sum
  }
  let held = 0
  return {
    pick(destination) {
      if (recentCloses(destination) <= threshold) return null
      const used = byDestination.get(destination)
      for (let i = 0; i < DRAWS; i++) {
        const port = lo + Math.floor(random() * (hi - lo + 1))
        if (!reserved(port) && !used?.has(port)) return port
      }
      return null
    },
    hold(destination, port) {
      let used = byDestination.get(destination)
      if (used === undefined) {
        used = new Set()
        byDestination.set(destination, used)
      }
      if (!used.has(port)) held++
      used.add(port)
    },
    closed(destination) {
      let c = closes.get(destination)
      if (c === undefined) {
        c = { counts: new Array(TIME_WAIT_S).fill(0), stamps: new Array(TIME_WAIT_S).fill(-Infinity) }
        closes.set(destination, c)
      }
      const now = nowS()
      const i = now % TIME_WAIT_S
      if (c.stamps[i] !== now) {
        c.stamps[i] = now
        c.counts[i] = 0
      }
      c.counts[i]!++
    },
    release(destination, port) {
      const used = byDestination.get(destination)
      if (used?.delete(port) === true) held--
      if (used?.size === 0) byDestination.delete(destination)
    },
    get held() {
      return held
    },
  }
}

/** Linux's default ip_local_port_range. */
export const DEFAULT_PORT_RANGE: readonly [number, number] = [32768, 60999]

/** The node's ephemeral range and reserved ports (its own network namespace's sysctls), defaults when unreadable. */
export function readLocalPorts(root = '/proc/sys/net/ipv4'): {
  range: readonly [number, number]
  reserved: (port: number) => boolean
} {
  const read = (name: string): string | null => {
    try {
      return readFileSync(`${root}/${name}`, 'utf8')
    } catch {
      return null
    }
  }
  return {
    range: parsePortRange(read('ip_local_port_range')) ?? DEFAULT_PORT_RANGE,
    reserved: parseReservedPorts(read('ip_local_reserved_ports') ?? ''),
  }
}

/** ip_local_reserved_ports ("8080,30000-32767" or empty) as a test; anything unparsable reserves nothing of its own. */
export function parseReservedPorts(text: string): (port: number) => boolean {
  const ranges: Array<[number, number]> = []
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim())
    if (m === null) continue
    const a = Number(m[1])
    const b = m[2] === undefined ? a : Number(m[2])
    if (a <= b) ranges.push([a, b])
  }
  return (port) => ranges.some(([a, b]) => port >= a && port <= b)
}
