import { multiaddr } from '@multiformats/multiaddr'
import type { RelayStatus } from '@podlink/core'
import { peerIdOf } from '../node/peer-id-cache.ts'
import type { MeshNode } from './create-mesh-node.ts'

/** A relay agent as the agent knows it (node annotations, ExternalIP/InternalIP when public). */
export interface RelayInfo {
  readonly node: string
  readonly peerId: string
  /** Dialable multiaddrs without `/p2p`, e.g. `/ip4/203.0.113.11/tcp/4001`. */
  readonly addrs: readonly string[]
}

export interface RelayKeeper {
  setRelays(relays: readonly RelayInfo[]): void
  /** Relays we hold a reservation on, nearest first: where peers will look for us, and where we look for them. */
  reserved(): RelayInfo[]
  /** Every known relay, nearest first. */
  all(): RelayInfo[]
  status(): RelayStatus[]
  /** Resolves when `count` reservations are held (or the signal aborts). */
  waitReserved(count: number, signal: AbortSignal): Promise<void>
  stop(): void
}

export interface RelayKeeperOptions {
  /** Reservations to hold; default 2. */
  readonly want?: number
  /** How often connections and reservations are checked; default 500 ms (re-reservation well within 5 s). */
  readonly checkMs?: number
  /** How often RTTs are measured and the nearest relays chosen again; default 30 s. */
  readonly rerankMs?: number
  readonly now?: () => Date
}

interface Row {
  info: RelayInfo
  rttMs: number | null
  chosen: boolean
  since: string | null
  reason: string | null
  failures: number
  busy: boolean
  /** A failed relay waits one check period, so a dead relay cannot starve the others' reservations. */
  retryAt: number
  /** An unranked relay (no RTT: it did not answer) is measured again from this time, not only at the next ranking. */
  measureAt: number
  /** Measurements failed in a row: the wait before the next one doubles, from 1 s up to MAX_REMEASURE_MS. */
  measureFailures: number
  measuring: boolean
}

/** The longest wait between two measurements of a relay that does not answer, while fewer than `want` are chosen. */
const MAX_REMEASURE_MS = 4_000

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the reservation did not complete in ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/**
 * Keeps reservations on the `want` nearest relays (by ping RTT), made explicitly through the relay transport's
 * reservation store rather than discovery mode: research/libp2p-lab.md §5.5 found a specific-relay listener never
 * re-reserves after a relay restart and discovery needs ~4 s; here a check every `checkMs` redials a chosen relay
 * whose connection is gone and reserves again as soon as it answers. A relay that fails three checks in a row is
 * replaced by the next reachable one (if any); a relay that answers pings again comes back at the next ranking.
 */
export function createRelayKeeper(node: MeshNode, options: RelayKeeperOptions = {}): RelayKeeper {
  const want = options.want ?? 2
  const checkMs = options.checkMs ?? 500
  const now = options.now ?? (() => new Date())
  const rows = new Map<string, Row>()
  const libp2p = node.libp2p
  const stopping = new AbortController()
  const waiters = new Set<() => void>()

  const hasReservation = (row: Row): boolean => node.reservations.hasReservation(peerIdOf(row.info.peerId))
  const directConnection = (peerId: string) =>
    libp2p.getConnections(peerIdOf(peerId)).find((c) => !c.remoteAddr.toString().includes('/p2p-circuit'))
  const sorted = (): Row[] =>
    [...rows.values()].sort((a, b) => (a.rttMs ?? Number.POSITIVE_INFINITY) - (b.rttMs ?? Number.POSITIVE_INFINITY))
  const notify = (): void => {
    for (const w of waiters) w()
  }

  async function connect(row: Row, signal: AbortSignal): Promise<void> {
    if (directConnection(row.info.peerId) !== undefined) return
    let last: unknown = new Error('no address')
    for (const addr of row.info.addrs) {
      try {
        await libp2p.dial(multiaddr(`${addr}/p2p/${row.info.peerId}`), { signal })
        return
      } catch (err) {
        last = err
      }
    }
    throw last
  }

  async function measure(row: Row): Promise<void> {
    row.measuring = true
    try {
      const signal = AbortSignal.any([stopping.signal, AbortSignal.timeout(3_000)])
      await connect(row, signal)
      row.rttMs = Math.round(await libp2p.services.ping.ping(peerIdOf(row.info.peerId), { signal }))
      row.measureFailures = 0
    } catch (err) {
      row.rttMs = null
      row.reason = `unreachable: ${errText(err)}`
      row.measureFailures++
      row.measureAt = Date.now() + Math.min(1_000 * 2 ** (row.measureFailures - 1), MAX_REMEASURE_MS)
    } finally {
      row.measuring = false
    }
  }

  /**
   * While fewer than `want` relays are chosen, a relay that did not answer its last measurement is measured again
   * after a short backoff and chosen once it answers. Waiting for the next ranking instead (30 s) left an agent
   * whose first ping to its only relay failed (a busy start, a relay restarting) without a reservation, and so not
   * ready, for 30 s: the bench's start -> ready read 31-33 s against 5 s by hand.
   */
  function remeasure(): void {
    const chosen = [...rows.values()].filter((r) => r.chosen).length
    if (chosen >= want) return
    for (const row of rows.values()) {
      if (row.chosen || row.rttMs !== null || row.measuring || row.measureAt > Date.now()) continue
      void measure(row).then(() => {
        if (row.rttMs === null || stopping.signal.aborted) return
        if ([...rows.values()].filter((r) => r.chosen).length < want) row.chosen = true
        tick()
      })
    }
  }

  function choose(): void {
    const reachable = sorted().filter((r) => r.rttMs !== null)
    const keep = new Set(reachable.slice(0, want))
    for (const row of rows.values()) row.chosen = keep.has(row)
  }

  async function rerank(): Promise<void> {
    await Promise.all([...rows.values()].map(measure))
    choose()
    tick()
  }

  /**
   * One reservation at a time: the store runs them through a queue that it clears whenever it has "enough" relays,
   * and a cleared job never settles (observed: the second of two concurrent reservations hung forever).
   */
  let reserving = false
  function tick(): void {
    if (stopping.signal.aborted) return
    remeasure()
    if (reserving) return
    for (const row of sorted()) {
      if (!row.chosen || row.busy || row.retryAt > Date.now()) continue
      if (hasReservation(row) && directConnection(row.info.peerId) !== undefined) continue
      row.busy = true
      reserving = true
      void (async () => {
        try {
          const signal = AbortSignal.any([stopping.signal, AbortSignal.timeout(3_000)])
          await connect(row, signal)
          await withTimeout(node.reservations.addRelay(peerIdOf(row.info.peerId), 'configured'), 6_000)
          row.failures = 0
          row.reason = null
          row.since = now().toISOString()
          notify()
        } catch (err) {
          row.failures++
          row.retryAt = Date.now() + checkMs
          row.reason = `no reservation: ${errText(err)}`
          row.since = null
          if (row.failures >= 3) {
            const spare = sorted().find((r) => !r.chosen && r.rttMs !== null)
            if (spare !== undefined) {
              row.chosen = false
              spare.chosen = true
            }
          }
        } finally {
          row.busy = false
          reserving = false
        }
        tick()
      })()
      return
    }
  }

  const onRemoved = (): void => {
    for (const row of rows.values()) if (!hasReservation(row)) row.since = null
    tick()
  }
  node.reservations.addEventListener('relay:removed', onRemoved)
  const checkTimer = setInterval(tick, checkMs)
  const rankTimer = setInterval(() => void rerank(), options.rerankMs ?? 30_000)

  return {
    setRelays(relays) {
      const ids = new Set<string>()
      for (const info of relays) {
        if (info.peerId === node.peerId) continue
        ids.add(info.peerId)
        const row = rows.get(info.peerId)
        if (row === undefined)
          rows.set(info.peerId, {
            info,
            rttMs: null,
            chosen: false,
            since: null,
            reason: null,
            failures: 0,
            busy: false,
            retryAt: 0,
            measureAt: 0,
            measureFailures: 0,
            measuring: false,
          })
        else row.info = info
      }
      for (const id of rows.keys()) if (!ids.has(id)) rows.delete(id)
      void rerank()
    },
    reserved: () =>
      sorted()
        .filter((r) => r.chosen && hasReservation(r))
        .map((r) => r.info),
    all: () => sorted().map((r) => r.info),
    status: () =>
      sorted().map((r) => {
        const reserved = hasReservation(r)
        return {
          node: r.info.node,
          peerId: r.info.peerId,
          reserved,
          rttMs: r.rttMs,
          since: reserved ? r.since : null,
          reason: reserved ? null : r.chosen ? r.reason : (r.reason ?? `not among the ${want} nearest relays`),
        }
      }),
    waitReserved(count, signal) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const held = [...rows.values()].filter(hasReservation).length
          if (held >= Math.min(count, rows.size)) {
            waiters.delete(check)
            clearInterval(timer)
            resolve()
          }
        }
        const timer = setInterval(check, 100)
        waiters.add(check)
        signal.addEventListener(
          'abort',
          () => {
            waiters.delete(check)
            clearInterval(timer)
            reject(signal.reason)
          },
          { once: true },
        )
        check()
      })
    },
    stop() {
      stopping.abort()
      clearInterval(checkTimer)
      clearInterval(rankTimer)
      node.reservations.removeEventListener('relay:removed', onRemoved)
      for (const w of waiters) w()
    },
  }
}
