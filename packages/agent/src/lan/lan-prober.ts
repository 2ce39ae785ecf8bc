/**
 * LAN membership, learned (ARCHITECTURE.md decision 2): a peer shares this node's LAN when a direct
 * connection to its InternalIP proves the expected peer ID AND the peer sees this connection coming
 * from this node's own InternalIP (no NAT between us, so flannel's VXLAN delivers both ways).
 * Overlapping ranges and duplicate node IPs across sites cannot fool it: the same IP on another
 * site is another host, whose key does not match.
 *
 * A probe proves one of two things or nothing. Proven on the LAN: the key and our own address came
 * back. Proven off the LAN: another key answered, the peer saw us through NAT, or the network has no
 * route to the address. Nothing: a timeout, a refusal, a reset; the peer's agent may be starting,
 * restarting, or may not know our peer ID yet. LAN membership is a property of the network, not of the
 * peer's agent, so a probe that proves nothing keeps the last proven verdict (for `staleMs`) and is
 * retried within seconds; a node never proven either way counts as off the LAN (captured, carried by
 * the mesh: slower than flannel but never misrouted to a same-address host on another site).
 * Proven verdicts are persisted (`LanVerdictStore`), so a restarted agent installs the rules it had.
 */
import type { Logger } from '@podlink/core'

export interface LanTarget {
  readonly node: string
  readonly peerId: string
  readonly internalIP: string
  readonly port: number
}

/** `proven` false: no probe has proven either way yet (for this peer ID and address); `lan` is then false. */
export type LanVerdict =
  | { readonly lan: true; readonly proven: true; readonly reason: string }
  | { readonly lan: false; readonly proven: boolean; readonly reason: string }

/** A proven verdict as the store keeps it: `key` is the peer ID and address it was proven for. */
export interface ProvenLanVerdict {
  readonly node: string
  readonly key: string
  readonly lan: boolean
  readonly reason: string
  /** Epoch ms of the last probe that proved it. */
  readonly provenAt: number
}

/** Where proven verdicts outlive the process (the agent's state directory). */
export interface LanVerdictStore {
  save(verdicts: readonly ProvenLanVerdict[]): void
}

/** One probe: dial `internalIP:port` expecting `peerId`, report how the peer saw us. The mesh implements it. */
export interface LanProbe {
  probe(target: LanTarget, signal: AbortSignal): Promise<{ observedIP: string }>
}

export interface LanProberOptions {
  readonly selfIP: string
  readonly timeoutMs?: number
  /** How often a proven verdict is re-checked even when nothing changed. */
  readonly refreshMs?: number
  /**
   * Longest wait between probes that proved nothing, while they are recent: a peer agent that is starting
   * answers within seconds, and until then a LAN peer's traffic is captured (ARCHITECTURE decision 1).
   */
  readonly retryCapMs?: number
  /** After this many probes in a row proved nothing, the peer is unreachable rather than starting: wait up to `slowRetryCapMs`. */
  readonly quickRetries?: number
  readonly slowRetryCapMs?: number
  /** How long a proven verdict outlives probes that prove nothing (an agent restart, a node reboot). */
  readonly staleMs?: number
  /**
   * Probes running at once, across rounds. Default 32: every probe is a libp2p dial, and 1,000 new Nodes probed at
   * once (unreachable addresses, each failing with a timeout) held the agent's event loop for 1.1-1.7 s at a time,
   * flows included, for 30 s in the bench. The rest wait their turn; each one's outcome counts as soon as it is in.
   */
  readonly maxConcurrent?: number
}

export interface LanProberDeps {
  readonly probe: LanProbe
  readonly log: Logger
  readonly store?: LanVerdictStore
  /** Verdicts a previous run proved; used (for an unchanged peer ID and address) until probes say otherwise. */
  readonly initial?: readonly ProvenLanVerdict[]
  /**
   * A node's membership changed (a node on the LAN left, or a probe's outcome came in), called as soon as it did:
   * while a round is still running (its other probes waiting their turn or their timeout), the routing may be
   * recomputed now rather than when the round is over.
   */
  readonly onChange?: () => void
}

/** What one probe showed: the verdict it proves, or nothing (`unknown`). */
export type ProbeOutcome =
  | { readonly kind: 'lan'; readonly reason: string }
  | { readonly kind: 'off-lan'; readonly reason: string }
  | { readonly kind: 'unknown'; readonly reason: string }

interface NodeState {
  key: string
  verdict: LanVerdict
  provenAt: number | null
  /** Epoch ms of the last probe, or -Infinity when one is due at once. */
  at: number
  /** Probes in a row that proved nothing. */
  unknowns: number
}

export class LanProber {
  readonly #probe: LanProbe
  readonly #log: Logger
  readonly #store: LanVerdictStore | undefined
  readonly #options: Required<LanProberOptions>
  readonly #states = new Map<string, NodeState>()
  readonly #inFlight = new Map<string, Promise<ProbeOutcome>>()
  readonly #onChange: (() => void) | undefined
  /** Probes holding a slot; the wake-ups of those waiting for one, in the order they became due; their nodes. */
  #running = 0
  readonly #waiting: Array<() => void> = []
  readonly #queued = new Set<string>()

  constructor(deps: LanProberDeps, options: LanProberOptions) {
    this.#probe = deps.probe
    this.#log = deps.log
    this.#store = deps.store
    this.#onChange = deps.onChange
    this.#options = {
      timeoutMs: 2000,
      refreshMs: 60_000,
      retryCapMs: 4000,
      quickRetries: 15,
      slowRetryCapMs: 30_000,
      staleMs: 5 * 60_000,
      maxConcurrent: 32,
      ...options,
    }
    for (const v of deps.initial ?? []) {
      const verdict: LanVerdict = v.lan
        ? { lan: true, proven: true, reason: `${v.reason} (remembered)` }
        : { lan: false, proven: true, reason: `${v.reason} (remembered)` }
      this.#states.set(v.node, { key: v.key, verdict, provenAt: v.provenAt, at: -Infinity, unknowns: 0 })
    }
  }

  /** Nodes currently held to share this LAN (proven, or remembered and not yet disproven). */
  lanPeers(): Set<string> {
    return new Set([...this.#states].filter(([, s]) => s.verdict.lan).map(([node]) => node))
  }

  verdict(node: string): LanVerdict | null {
    return this.#states.get(node)?.verdict ?? null
  }

  /**
   * A sign that the node's agent is up and knows us (a mesh connection to it opened): a node whose probes
   * proved nothing is probed again on the next round, at most once a second. True when that is the case.
   */
  nudge(node: string): boolean {
    const s = this.#states.get(node)
    // The probe's own connection is no sign: it opens while the probe runs.
    if (!s || s.unknowns === 0 || this.#inFlight.has(node)) return false
    s.unknowns = 1
    return true
  }

  /**
   * Probes every target that is new, whose identity or address changed, whose last probe proved nothing
   * (1 s doubling to `retryCapMs`), or whose verdict is older than `refreshMs`; forgets nodes that are
   * gone. A node whose peer ID or address changed loses its verdict at once, before its probe. Resolves
   * true when any node's membership changed. Outcomes count from when each came in (a round can outlast its
   * probes' retry intervals when they wait for a slot), unless `at` fixes the time of the whole round (tests).
   */
  async evaluate(targets: readonly LanTarget[], at?: number): Promise<boolean> {
    const now = at ?? Date.now()
    const wanted = new Map(targets.map((t) => [t.node, t]))
    let changed = false
    let provenChanged = false
    for (const [node, s] of [...this.#states]) {
      const t = wanted.get(node)
      if (t && s.key === keyOf(t)) continue
      changed ||= s.verdict.lan
      provenChanged ||= s.provenAt !== null
      this.#states.delete(node)
    }
    if (changed && this.#onChange !== undefined) queueMicrotask(this.#onChange)
    // A probe already running or waiting for a slot belongs to the round that started it, which records its outcome.
    const due = targets.filter((t) => {
      const s = this.#states.get(t.node)
      return !this.#inFlight.has(t.node) && !this.#queued.has(t.node) && (!s || now - s.at >= this.#waitAfter(s))
    })
    await Promise.all(
      due.map(async (t) => {
        const outcome = await this.#probeInTurn(t)
        const r = this.#record(t, outcome, at ?? Date.now())
        provenChanged ||= r.provenChanged
        if (r.changed) {
          changed = true
          if (this.#onChange !== undefined) queueMicrotask(this.#onChange)
        }
      }),
    )
    if (provenChanged) this.#store?.save(this.proven())
    return changed
  }

  /** Every proven verdict, for the store. */
  proven(): ProvenLanVerdict[] {
    const out: ProvenLanVerdict[] = []
    for (const [node, s] of this.#states) {
      if (s.provenAt !== null && s.verdict.proven)
        out.push({
          node,
          key: s.key,
          lan: s.verdict.lan,
          reason: stripRemembered(s.verdict.reason),
          provenAt: s.provenAt,
        })
    }
    return out.sort((a, b) => a.node.localeCompare(b.node))
  }

  /** Applies one probe's outcome to the node's state; says whether its membership or a proven verdict changed. */
  #record(t: LanTarget, outcome: ProbeOutcome, at: number): { changed: boolean; provenChanged: boolean } {
    let changed = false
    let provenChanged = false
    const key = keyOf(t)
    const prev = this.#states.get(t.node)
    const s: NodeState =
      prev && prev.key === key
        ? prev
        : { key, verdict: { lan: false, proven: false, reason: outcome.reason }, provenAt: null, at, unknowns: 0 }
    const before = prev?.key === key ? prev.verdict : undefined
    s.at = at
    if (outcome.kind === 'unknown') {
      s.unknowns++
      const fresh = s.provenAt !== null && at - s.provenAt < this.#options.staleMs
      if (!fresh) {
        provenChanged ||= s.provenAt !== null
        s.provenAt = null
        s.verdict = { lan: false, proven: false, reason: outcome.reason }
      }
    } else {
      s.unknowns = 0
      s.provenAt = at
      provenChanged = true
      s.verdict =
        outcome.kind === 'lan'
          ? { lan: true, proven: true, reason: outcome.reason }
          : { lan: false, proven: true, reason: outcome.reason }
    }
    this.#states.set(t.node, s)
    if (!before || before.lan !== s.verdict.lan || before.proven !== s.verdict.proven) {
      changed = !before ? s.verdict.lan : before.lan !== s.verdict.lan
      this.#log.info(
        { peer: t.node, lan: s.verdict.lan, proven: s.verdict.proven, reason: s.verdict.reason },
        'lan membership',
      )
    } else if (outcome.kind === 'unknown' && s.verdict.proven && s.unknowns === 1) {
      this.#log.info(
        { peer: t.node, lan: s.verdict.lan, reason: outcome.reason },
        'lan probe proved nothing: verdict kept',
      )
    }
    return { changed, provenChanged }
  }

  /** Runs the probe once a slot is free (maxConcurrent at once across rounds). */
  async #probeInTurn(t: LanTarget): Promise<ProbeOutcome> {
    if (this.#running >= this.#options.maxConcurrent) {
      this.#queued.add(t.node)
      await new Promise<void>((resolve) => this.#waiting.push(resolve))
      this.#queued.delete(t.node)
    } else this.#running++
    try {
      return await this.#probeOnce(t)
    } finally {
      // The slot passes straight to the next waiter, or is given back.
      const next = this.#waiting.shift()
      if (next !== undefined) next()
      else this.#running--
    }
  }

  #waitAfter(s: NodeState): number {
    if (s.unknowns === 0) return s.provenAt === null ? 0 : this.#options.refreshMs
    const cap = s.unknowns > this.#options.quickRetries ? this.#options.slowRetryCapMs : this.#options.retryCapMs
    return Math.min(1000 * 2 ** (s.unknowns - 1), cap)
  }

  #probeOnce(t: LanTarget): Promise<ProbeOutcome> {
    const running = this.#inFlight.get(t.node)
    if (running) return running
    const p = (async (): Promise<ProbeOutcome> => {
      if (t.internalIP === this.#options.selfIP) {
        // Dialling our own address reaches ourselves: a node with our IP is on another site by definition.
        return { kind: 'off-lan', reason: `InternalIP ${t.internalIP} is also ours: ${t.node} is on another site` }
      }
      const signal = AbortSignal.timeout(this.#options.timeoutMs)
      try {
        // The deadline holds even if a dial ignores its signal: a stuck probe must not stall routing.
        const { observedIP } = await Promise.race([
          this.#probe.probe(t, signal),
          new Promise<never>((_, reject) => {
            const timer = setTimeout(
              () => reject(new Error(`no answer in ${this.#options.timeoutMs} ms`)),
              this.#options.timeoutMs + 250,
            )
            timer.unref()
          }),
        ])
        if (observedIP === this.#options.selfIP) {
          return {
            kind: 'lan',
            reason: `same LAN: ${t.internalIP} proved peer ${short(t.peerId)} and saw us as ${observedIP}`,
          }
        }
        return {
          kind: 'off-lan',
          reason: `${t.internalIP} proved peer ${short(t.peerId)} but saw us as ${observedIP} (NAT between us)`,
        }
      } catch (err) {
        const what = `dialling ${t.internalIP}:${t.port} for peer ${short(t.peerId)} failed (${describe(err)})`
        return classifyProbeError(err) === 'off-lan'
          ? { kind: 'off-lan', reason: `no direct LAN path: ${what}` }
          : { kind: 'unknown', reason: `not proven yet: ${what}` }
      } finally {
        this.#inFlight.delete(t.node)
      }
    })()
    this.#inFlight.set(t.node, p)
    return p
  }
}

/** Errno codes that prove the address is not on our LAN: no route to it from here. */
const NO_ROUTE = new Set(['ENETUNREACH', 'EHOSTUNREACH'])

/**
 * Pure: what a failed probe proves. Another key at the address (the encrypter's peer check) or no route
 * to it: off the LAN. Anything else (a timeout, a refusal, a reset, a handshake cut short by a peer that
 * does not know our peer ID yet): nothing.
 */
export function classifyProbeError(err: unknown): 'off-lan' | 'unknown' {
  for (const e of causes(err)) {
    const code = (e as NodeJS.ErrnoException).code
    if (typeof code === 'string' && NO_ROUTE.has(code)) return 'off-lan'
    if (e.name === 'UnexpectedPeerError') return 'off-lan'
    if (/\bE(NET|HOST)UNREACH\b|unexpected peer|does not match expected remote identity/i.test(e.message))
      return 'off-lan'
  }
  return 'unknown'
}

/** The error, its causes and, for aggregate errors, every inner error (bounded: errors can be cyclic). */
function causes(err: unknown): Error[] {
  const out: Error[] = []
  const queue: unknown[] = [err]
  while (queue.length > 0 && out.length < 16) {
    const e = queue.shift()
    if (!(e instanceof Error) || out.includes(e)) continue
    out.push(e)
    if (e.cause !== undefined) queue.push(e.cause)
    if (e instanceof AggregateError) queue.push(...e.errors)
  }
  return out
}

export const keyOf = (t: LanTarget): string => `${t.peerId}@${t.internalIP}:${t.port}`
const short = (peerId: string): string => (peerId.length > 12 ? `…${peerId.slice(-6)}` : peerId)
const stripRemembered = (reason: string): string => reason.replace(/ \(remembered\)$/, '')
function describe(err: unknown): string {
  if (err instanceof Error)
    return ((err as NodeJS.ErrnoException).code ?? err.name === 'Error') ? err.message.split('\n')[0]! : err.name
  return String(err)
}
