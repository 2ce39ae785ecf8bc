import type { PathKind, PeerStatus } from '@podlink/core'

/**
 * Path state of every peer, keyed by peer ID, rendered as core's `PeerStatus` (what `podlink peers` shows).
 * Plain bookkeeping, no I/O: the tunnel and proxy call the setters; the agent reads `status()`.
 * `since` changes only when the path kind or relay changes, so flapping RTTs do not reset it.
 */
export interface PeerTable {
  /** Add or rename a peer; keeps its counters and path. */
  upsert(peerId: string, init: { node: string; lan?: boolean; addrs?: readonly string[] }): void
  remove(peerId: string): void
  setPath(peerId: string, path: PathKind, detail?: { relay?: string | null; reason?: string | null }): void
  /** Why the last upgrade failed, without changing the path (e.g. "punch: symmetric NAT"). */
  setReason(peerId: string, reason: string | null): void
  setRtt(peerId: string, rttMs: number | null): void
  setAddrs(peerId: string, addrs: readonly string[]): void
  addBytes(peerId: string, tx: number, rx: number): void
  flowOpened(peerId: string): void
  flowClosed(peerId: string): void
  get(peerId: string): PeerStatus | undefined
  /** Every peer, sorted by node name then peer ID. */
  status(): PeerStatus[]
}

export interface PeerTableComponents {
  readonly now: () => Date
}

type Row = { -readonly [K in keyof PeerStatus]: PeerStatus[K] }

export function createPeerTable(components: PeerTableComponents = { now: () => new Date() }): PeerTable {
  const rows = new Map<string, Row>()
  const with_ = (peerId: string, f: (row: Row) => void): void => {
    const row = rows.get(peerId)
    if (row !== undefined) f(row)
  }
  return {
    upsert(peerId, init) {
      const row = rows.get(peerId)
      if (row === undefined) {
        rows.set(peerId, {
          node: init.node,
          peerId,
          lan: init.lan ?? false,
          path: 'none',
          relay: null,
          rttMs: null,
          addrs: init.addrs ?? [],
          txBytes: 0,
          rxBytes: 0,
          flows: 0,
          since: null,
          reason: null,
        })
        return
      }
      row.node = init.node
      if (init.lan !== undefined) row.lan = init.lan
      if (init.addrs !== undefined) row.addrs = [...init.addrs]
    },
    remove(peerId) {
      rows.delete(peerId)
    },
    setPath(peerId, path, detail = {}) {
      with_(peerId, (row) => {
        const relay = path === 'relay' ? (detail.relay ?? null) : null
        if (row.path !== path || row.relay !== relay)
          row.since = path === 'none' ? null : components.now().toISOString()
        row.path = path
        row.relay = relay
        if (path === 'none') row.rttMs = null
        if (detail.reason !== undefined) row.reason = detail.reason
        else if (path === 'direct' || path === 'lan') row.reason = null
      })
    },
    setReason(peerId, reason) {
      with_(peerId, (row) => {
        row.reason = reason
      })
    },
    setRtt(peerId, rttMs) {
      with_(peerId, (row) => {
        row.rttMs = rttMs
      })
    },
    setAddrs(peerId, addrs) {
      with_(peerId, (row) => {
        row.addrs = [...addrs]
      })
    },
    addBytes(peerId, tx, rx) {
      with_(peerId, (row) => {
        row.txBytes += tx
        row.rxBytes += rx
      })
    },
    flowOpened(peerId) {
      with_(peerId, (row) => {
        row.flows++
      })
    },
    flowClosed(peerId) {
      with_(peerId, (row) => {
        row.flows = Math.max(0, row.flows - 1)
      })
    },
    get(peerId) {
      const row = rows.get(peerId)
      return row === undefined ? undefined : { ...row }
    },
    status() {
      return [...rows.values()]
        .map((row) => ({ ...row }))
        .sort((a, b) => (a.node === b.node ? (a.peerId < b.peerId ? -1 : 1) : a.node < b.node ? -1 : 1))
    },
  }
}
