import type tls from 'node:tls'
import { SEALED_ALPN } from './sealed-socket.ts'

/**
 * Dial one proven fast socket to `peer` at host:port (dialFast with the node's credentials), resuming `session`
 * when given: a TLS session ticket from an earlier socket to this same peer (no certificate signatures then).
 */
export type FastDial = (
  peer: string,
  host: string,
  port: number,
  signal: AbortSignal,
  session: Buffer | undefined,
) => Promise<tls.TLSSocket>

export interface FastPoolOptions {
  /**
   * Ready sockets kept per peer in use. Default 4: a flow that finds none rides libp2p for its whole life (a third
   * of the fast channel's throughput), and a client that opens a few connections at once (iperf3's control and
   * data, a browser) took the last ready one of 2 before the refill landed in the bench.
   */
  readonly size?: number
  /**
   * A ready socket unused this long is closed (the listener waits 60 s for a header). Default 45000 ms: each
   * replacement costs a TLS handshake on both agents, and to a punched peer a punch port for 65 s more.
   */
  readonly maxIdleMs?: number
  /** Sockets are kept ready while the peer had a flow this recently. Default 120000 ms. */
  readonly warmForMs?: number
  /** Backoff after a failed dial: this, doubling per failure, up to retryMaxMs. Defaults 1000 and 60000 ms. */
  readonly retryMinMs?: number
  readonly retryMaxMs?: number
  /**
   * One dial's limit. Default 8000 ms: a punched or relayed dial is a signalling exchange, a punch or two legs and a
   * TLS handshake, and behind a bulk flow that fills the same links the exchange waits in their queues.
   */
  readonly dialTimeoutMs?: number
  /**
   * Dials per peer per second at most. Each ready socket costs a TLS handshake (signatures, certificate checks) on
   * both agents, and a socket carries one flow: under connection churn, unbounded refills spent more CPU than they
   * saved (new connections per second fell from ~300 to ~190 in the bench). Flows beyond what this refills go
   * over libp2p streams, which are cheap to open. Default 20.
   */
  readonly maxDialsPerSecond?: number
  /**
   * A refill starts this long after the flow that asked for it: a TLS handshake is synchronous CPU on both agents,
   * and begun at once it held up that very flow's first bytes (its greeting waited ~3 ms behind the handshake in
   * the lab). Default 25 ms.
   */
  readonly refillDelayMs?: number
  /**
   * Once no flow took from the peer for this long, a drained pool is refilled even past maxDialsPerSecond (up to
   * its size): a burst of short connections spent the second's dials, and without this a bulk flow starting right
   * after it found the pool empty and stayed on libp2p for its life (half the throughput; seen in the bench). Under
   * steady churn takes keep coming and the limit holds. Default 50 ms.
   */
  readonly refillQuietMs?: number
  /**
   * A take that comes this long after the peer's previous one starts a new burst, which may dial up to `size`
   * sockets past maxDialsPerSecond (for itself, to wait for, and to refill). A client's bulk connection a few ms after
   * a burst of short ones (before refillQuietMs) otherwise found the second's dials spent and rode libp2p for its
   * whole life: 116-157 MB/s instead of ~450 in the bench lab, 4 times out of 4. Under steady churn the takes come
   * closer together than this and the limit holds. Default 10 ms.
   */
  readonly burstGapMs?: number
  /**
   * A new burst's allowance is granted at most this often: a client opening one connection every 10-20 ms would
   * otherwise start a "burst" with each and dial for every flow (a TLS handshake on both agents each). So at most
   * `size` dials past the limit per this interval (4 per 100 ms: 40 a second above maxDialsPerSecond). Default 100
   * ms: with 250 a bulk connection right after a burst still missed 2 times of 6 (an allowance granted within the
   * burst was still counting), with 100 none of 8.
   */
  readonly burstEveryMs?: number
}

export interface FastPeerStatus {
  readonly address: string
  readonly ready: number
  readonly dialing: number
  /** Flows that took a socket (ready, or dialled while they waited) / went without one. */
  readonly taken: number
  readonly missed: number
  /** Of `taken`, the flows that waited for a dial (takeOrWait). */
  readonly waited: number
  /** Dials failed in a row, and the last one's error; 0 and null once one succeeds. */
  readonly failures: number
  readonly lastError: string | null
  /** What the last socket dialled carries flows as: sealed records (the native relay) or TLS; null before one. */
  readonly records: 'sealed' | 'tls' | null
}

export interface FastPool {
  /**
   * A ready socket to `peer` (listening at host:port), or null when none is ready; either way the peer's pool is
   * then refilled in the background. The caller owns the socket it got.
   */
  take(peer: string, host: string, port: number): tls.TLSSocket | null
  /**
   * Like `take`, but a flow that finds none ready may wait up to `waitMs` for a socket being dialled: one already on
   * its way, or one dialled for it at once when the rate limit and the peer's backoff allow; only to a peer whose
   * last dial worked (else null at once). A socket that lands after the wait is kept ready for the next flow. 0
   * never waits (the refill still starts now).
   */
  takeOrWait(peer: string, host: string, port: number, waitMs: number): Promise<tls.TLSSocket | null>
  status(): Map<string, FastPeerStatus>
  /** Close the peer's ready sockets and stop dialling it (it left, or its path is no longer direct). */
  forget(peer: string): void
  /**
   * A socket taken from the pool was dead (reset or closed before the exit answered: the peer's agent restarted, a
   * NAT between us forgot the mapping): the other ready ones most likely are too. Close them and dial fresh ones.
   */
  stale(peer: string): void
  close(): void
}

interface Ready {
  readonly socket: tls.TLSSocket
  readonly timer: NodeJS.Timeout
}

interface Waiter {
  readonly resolve: (socket: tls.TLSSocket | null) => void
  readonly timer: NodeJS.Timeout
}

interface Entry {
  host: string
  port: number
  ready: Ready[]
  dialing: number
  lastWanted: number
  failures: number
  /**
   * The last dial to this address succeeded: only then does a flow wait for one (a listener that drops SYNs would
   * otherwise cost every flow the wait until the dial times out, and again after each backoff).
   */
  working: boolean
  retryAt: number
  lastError: string | null
  taken: number
  missed: number
  waited: number
  /** Flows waiting for a socket being dialled (takeOrWait), oldest first; each dial in flight serves one. */
  waiters: Waiter[]
  /** Start times of the dials of the last second (rate limit), and the timer that resumes filling after it. */
  dialTimes: number[]
  resume: NodeJS.Timeout | null
  /** The refill after a take, once refillDelayMs passed. */
  refill: NodeJS.Timeout | null
  /** Dials this burst may still make past maxDialsPerSecond (see burstGapMs), and when that was granted. */
  pastLimit: number
  burstAt: number
  /** The newest session ticket the peer gave us, to resume the next dial with. */
  session: Buffer | undefined
  /** Bumped when the address changes or the peer is forgotten: dials of an older generation are dropped. */
  generation: number
  records: 'sealed' | 'tls' | null
}

/**
 * Keeps a few proven fast sockets ready per peer, so a new flow takes one and sends its header at once: the TLS
 * handshake and the proofs are paid ahead, and a new connection costs no round trip more than a libp2p stream.
 * A peer is warmed only once a flow wanted it, and kept warm while flows keep coming. Dial failures back off
 * exponentially; flows meanwhile go over libp2p.
 */
export function createFastPool(dial: FastDial, options: FastPoolOptions = {}): FastPool {
  const size = options.size ?? 4
  const maxIdleMs = options.maxIdleMs ?? 45_000
  const warmForMs = options.warmForMs ?? 120_000
  const retryMinMs = options.retryMinMs ?? 1_000
  const retryMaxMs = options.retryMaxMs ?? 60_000
  const dialTimeoutMs = options.dialTimeoutMs ?? 8_000
  const maxDialsPerSecond = options.maxDialsPerSecond ?? 20
  const refillDelayMs = options.refillDelayMs ?? 25
  const refillQuietMs = options.refillQuietMs ?? 50
  const burstGapMs = options.burstGapMs ?? 10
  const burstEveryMs = options.burstEveryMs ?? 100
  const entries = new Map<string, Entry>()
  const closing = new AbortController()

  const drop = (entry: Entry, r: Ready): void => {
    const i = entry.ready.indexOf(r)
    if (i >= 0) entry.ready.splice(i, 1)
    clearTimeout(r.timer)
  }

  /** Drops the dial times older than a second: what is left counts against maxDialsPerSecond. */
  function pruneDialTimes(entry: Entry, now: number): void {
    while (entry.dialTimes.length > 0 && entry.dialTimes[0]! <= now - 1000) entry.dialTimes.shift()
  }

  function fill(peer: string, entry: Entry): void {
    const now = Date.now()
    pruneDialTimes(entry, now)
    while (
      !closing.signal.aborted &&
      entries.get(peer) === entry &&
      entry.ready.length + entry.dialing < size + entry.waiters.length &&
      now >= entry.retryAt &&
      now - entry.lastWanted < warmForMs
    ) {
      const overLimit = entry.dialTimes.length >= maxDialsPerSecond && now - entry.lastWanted < refillQuietMs
      if (overLimit && entry.pastLimit > 0) entry.pastLimit--
      else if (overLimit) {
        // Resumes when the second is over or the takes pause, whichever comes first (a timer that fires early
        // finds takes still coming and arms itself again).
        const at = Math.min(entry.dialTimes[0]! + 1000, entry.lastWanted + refillQuietMs)
        entry.resume ??= setTimeout(
          () => {
            entry.resume = null
            fill(peer, entry)
          },
          Math.max(1, at - now),
        ).unref()
        return
      }
      entry.dialTimes.push(now)
      entry.dialing++
      const generation = entry.generation
      const signal = AbortSignal.any([closing.signal, AbortSignal.timeout(dialTimeoutMs)])
      dial(peer, entry.host, entry.port, signal, entry.session).then(
        (socket) => {
          entry.dialing--
          if (closing.signal.aborted || entry.generation !== generation || entries.get(peer) !== entry) {
            socket.destroy()
            return
          }
          // TLS 1.3 tickets come after the handshake (usually before the listener's proof, so the session is complete
          // by now; a later one arrives as an event); each is for this peer only.
          entry.session = socket.getSession() ?? entry.session
          socket.on('session', (ticket: Buffer) => {
            if (entry.generation === generation) entry.session = ticket
          })
          entry.records = socket.alpnProtocol === SEALED_ALPN ? 'sealed' : 'tls'
          entry.failures = 0
          entry.working = true
          entry.lastError = null
          const waiter = entry.waiters.shift()
          if (waiter !== undefined) {
            clearTimeout(waiter.timer)
            entry.taken++
            entry.waited++
            waiter.resolve(socket)
            return
          }
          const r: Ready = {
            socket,
            timer: setTimeout(() => {
              drop(entry, r)
              socket.end()
              fill(peer, entry)
            }, maxIdleMs).unref(),
          }
          socket.once('close', () => drop(entry, r))
          entry.ready.push(r)
        },
        (err: unknown) => {
          entry.dialing--
          if (entry.generation !== generation) return
          entry.failures++
          entry.working = false
          entry.lastError = err instanceof Error ? err.message : String(err)
          entry.retryAt = Date.now() + Math.min(retryMaxMs, retryMinMs * 2 ** (entry.failures - 1))
          // Waiters no dial in flight will serve go without (the backoff means no new dial for them now).
          while (entry.waiters.length > entry.dialing) release(entry, entry.waiters.pop()!)
        },
      )
    }
  }

  /** A waiter goes without a socket (its flow rides libp2p). */
  function release(entry: Entry, waiter: Waiter): void {
    clearTimeout(waiter.timer)
    entry.missed++
    waiter.resolve(null)
  }

  function forgetEntry(entry: Entry): void {
    for (const w of entry.waiters.splice(0)) release(entry, w)
    entry.generation++
    entry.session = undefined
    if (entry.resume !== null) clearTimeout(entry.resume)
    entry.resume = null
    if (entry.refill !== null) clearTimeout(entry.refill)
    entry.refill = null
    for (const r of entry.ready.splice(0)) {
      clearTimeout(r.timer)
      r.socket.destroy()
    }
  }

  function entryFor(peer: string, host: string, port: number): Entry {
    let entry = entries.get(peer)
    if (entry === undefined) {
      entry = {
        host,
        port,
        ready: [],
        dialing: 0,
        lastWanted: 0,
        failures: 0,
        working: false,
        retryAt: 0,
        lastError: null,
        taken: 0,
        missed: 0,
        waited: 0,
        waiters: [],
        pastLimit: 0,
        burstAt: 0,
        generation: 0,
        dialTimes: [],
        resume: null,
        refill: null,
        session: undefined,
        records: null,
      }
      entries.set(peer, entry)
    } else if (entry.host !== host || entry.port !== port) {
      forgetEntry(entry)
      entry.host = host
      entry.port = port
      entry.failures = 0
      entry.working = false
      entry.retryAt = 0
    }
    const now = Date.now()
    // (A new entry has lastWanted 0 and no dials yet: nothing to go past.)
    if (entry.lastWanted > 0 && now - entry.lastWanted >= burstGapMs && now - entry.burstAt >= burstEveryMs) {
      entry.pastLimit = size
      entry.burstAt = now
    }
    entry.lastWanted = now
    return entry
  }

  /** The oldest ready socket still open, or null. */
  function takeReady(entry: Entry): tls.TLSSocket | null {
    while (entry.ready.length > 0) {
      const r = entry.ready.shift()!
      clearTimeout(r.timer)
      if (!r.socket.destroyed && !r.socket.readableEnded && r.socket.writable) return r.socket
      r.socket.destroy()
    }
    return null
  }

  /** The refill after a take waits refillDelayMs (its handshake would hold up the flow that just took). */
  function refillSoon(peer: string, entry: Entry): void {
    entry.refill ??= setTimeout(() => {
      entry.refill = null
      fill(peer, entry)
    }, refillDelayMs).unref()
  }

  return {
    take(peer, host, port) {
      const entry = entryFor(peer, host, port)
      const got = takeReady(entry)
      if (got === null) entry.missed++
      else entry.taken++
      refillSoon(peer, entry)
      return got
    },
    takeOrWait(peer, host, port, waitMs) {
      const entry = entryFor(peer, host, port)
      const got = takeReady(entry)
      if (got !== null) {
        entry.taken++
        refillSoon(peer, entry)
        return Promise.resolve(got)
      }
      const now = Date.now()
      pruneDialTimes(entry, now)
      // A dial in flight nobody waits for serves this flow; else one may start now, within the limits. Only to a
      // peer whose last dial worked: the first flows to a peer, and those after a failure, do not wait.
      const mayDial =
        entry.dialing > entry.waiters.length ||
        (!closing.signal.aborted &&
          now >= entry.retryAt &&
          (entry.dialTimes.length < maxDialsPerSecond || entry.pastLimit > 0))
      if (waitMs <= 0 || !entry.working || !mayDial) {
        entry.missed++
        fill(peer, entry)
        return Promise.resolve(null)
      }
      return new Promise<tls.TLSSocket | null>((resolve) => {
        const waiter: Waiter = {
          resolve,
          timer: setTimeout(() => {
            const i = entry.waiters.indexOf(waiter)
            if (i >= 0) entry.waiters.splice(i, 1)
            entry.missed++
            resolve(null)
          }, waitMs).unref(),
        }
        entry.waiters.push(waiter)
        fill(peer, entry)
      })
    },
    status() {
      const out = new Map<string, FastPeerStatus>()
      for (const [peer, e] of entries)
        out.set(peer, {
          // Port 0: sockets punched through the peer's NAT (fast-punch); -1: joined at a relay (fast-relay).
          address:
            e.port === 0 ? `${e.host} (punched)` : e.port === -1 ? `via ${e.host} (relay)` : `${e.host}:${e.port}`,
          ready: e.ready.length,
          dialing: e.dialing,
          taken: e.taken,
          missed: e.missed,
          waited: e.waited,
          failures: e.failures,
          lastError: e.lastError,
          records: e.records,
        })
      return out
    },
    stale(peer) {
      const entry = entries.get(peer)
      if (entry === undefined) return
      for (const r of entry.ready.splice(0)) {
        clearTimeout(r.timer)
        r.socket.destroy()
      }
      fill(peer, entry)
    },
    forget(peer) {
      const entry = entries.get(peer)
      if (entry === undefined) return
      forgetEntry(entry)
      entries.delete(peer)
    },
    close() {
      closing.abort()
      for (const entry of entries.values()) forgetEntry(entry)
      entries.clear()
    },
  }
}
