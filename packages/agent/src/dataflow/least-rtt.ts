/**
 * Per peer, the least round trip seen over the last `windowMs` to `2 windowMs`: samples go into the current window's
 * minimum, and the least is the lower of it and the previous window's. A sample taken behind a bulk flow (a ping
 * queued behind it read 42 ms to a peer 0.2 ms away) never displaces a lower one still in range, however many come;
 * replacing an aged minimum by whatever sample came next did, and a peer went "far" for a minute.
 */
export interface LeastRtt {
  /** Adds a sample (ms) if given; returns the least RTT in range, or null when there is none. */
  note(peer: string, sampleMs?: number | null): number | null
  /** Forgets peers not in `known`. */
  retain(known: ReadonlySet<string>): void
}

export function createLeastRtt(windowMs: number, now: () => number = Date.now): LeastRtt {
  const peers = new Map<string, { cur: number; curStart: number; prev: number }>()
  return {
    note(peer, sampleMs) {
      const t = now()
      let w = peers.get(peer)
      if (w !== undefined && t - w.curStart >= windowMs) {
        // The current window is over: it becomes the previous one (or nothing, if a whole window went by unseen).
        w.prev = t - w.curStart >= 2 * windowMs ? Number.POSITIVE_INFINITY : w.cur
        w.cur = Number.POSITIVE_INFINITY
        w.curStart = t
      }
      if (sampleMs != null && Number.isFinite(sampleMs) && sampleMs >= 0) {
        if (w === undefined) {
          w = { cur: sampleMs, curStart: t, prev: Number.POSITIVE_INFINITY }
          peers.set(peer, w)
        } else w.cur = Math.min(w.cur, sampleMs)
      }
      if (w === undefined) return null
      const least = Math.min(w.cur, w.prev)
      return Number.isFinite(least) ? least : null
    },
    retain(known) {
      for (const peer of peers.keys()) if (!known.has(peer)) peers.delete(peer)
    },
  }
}
