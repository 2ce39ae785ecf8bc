/**
 * Per peer, the least round trip seen over the last `windowMs` to `2 windowMs`: samples go into the current window's
 * minimum, and the least is the lower of it and the previous window's. A sample taken behind a bulk flow (a ping
 * queued behind it read 42 ms to a peer 0.2 ms away) never displaces a lower one still in range, however many come;
 * replacing an aged minimum by whatever sample came next did, and a peer went "far" for a minute.
 */
export interface LeastRtt {
  /** A round trip to `peer`, in ms (garbage is ignored). */
  add(peer: string, ms: number): void
  /** The least round trip in range, or null when there is none. */
  least(peer: string): number | null
  /** Forgets peers not in `known`. */
  retain(known: ReadonlySet<string>): void
}

interface Windows {
  cur: number
  curStart: number
  prev: number
}

export function createLeastRtt(windowMs: number, now: () => number = Date.now): LeastRtt {
  const peers = new Map<string, Windows>()
  /** Moves a window that is over into `prev` (or drops it, if a whole window went by unseen). */
  const roll = (w: Windows, t: number): void => {
    if (t - w.curStart < windowMs) return
    w.prev = t - w.curStart >= 2 * windowMs ? Number.POSITIVE_INFINITY : w.cur
    w.cur = Number.POSITIVE_INFINITY
    w.curStart = t
  }
  return {
    add(peer, ms) {
      if (!Number.isFinite(ms) || ms < 0) return
      const t = now()
      const w = peers.get(peer)
      if (w === undefined) {
        peers.set(peer, { cur: ms, curStart: t, prev: Number.POSITIVE_INFINITY })
        return
      }
      roll(w, t)
      w.cur = Math.min(w.cur, ms)
    },
    least(peer) {
      const w = peers.get(peer)
      if (w === undefined) return null
      roll(w, now())
      const least = Math.min(w.cur, w.prev)
      return Number.isFinite(least) ? least : null
    },
    retain(known) {
      for (const peer of peers.keys()) if (!known.has(peer)) peers.delete(peer)
    },
  }
}
