/**
 * LAN membership, learned (ARCHITECTURE.md decision 2): a peer shares this node's LAN when a direct
 * connection to its InternalIP proves the expected peer ID AND the peer sees this connection coming
 * from this node's own InternalIP (no NAT between us, so flannel's VXLAN delivers both ways).
 * Overlapping ranges and duplicate node IPs across sites cannot fool it: the same IP on another
 * site is another host, whose key does not match.
 */
import type { Logger } from '@podlink/core'

export interface LanTarget {
  readonly node: string
  readonly peerId: string
  readonly internalIP: string
  readonly port: number
}

export type LanVerdict =
  | { readonly lan: true; readonly reason: string }
  | { readonly lan: false; readonly reason: string }

/** One probe: dial `internalIP:port` expecting `peerId`, report how the peer saw us. The mesh implements it. */
export interface LanProbe {
  probe(target: LanTarget, signal: AbortSignal): Promise<{ observedIP: string }>
}

export interface LanProberOptions {
  readonly selfIP: string
  readonly timeoutMs?: number
  /** How often a verdict is re-checked even when nothing changed. */
  readonly refreshMs?: number
}

export class LanProber {
  readonly #probe: LanProbe
  readonly #log: Logger
  readonly #options: Required<LanProberOptions>
  readonly #verdicts = new Map<string, { key: string; verdict: LanVerdict; at: number; failures: number }>()
  readonly #inFlight = new Map<string, Promise<LanVerdict>>()

  constructor(probe: LanProbe, log: Logger, options: LanProberOptions) {
    this.#probe = probe
    this.#log = log
    this.#options = { timeoutMs: 2000, refreshMs: 60_000, ...options }
  }

  /** Nodes currently proven to share this LAN. */
  lanPeers(): Set<string> {
    return new Set([...this.#verdicts].filter(([, v]) => v.verdict.lan).map(([node]) => node))
  }

  verdict(node: string): LanVerdict | null {
    return this.#verdicts.get(node)?.verdict ?? null
  }

  /**
   * Probes every target whose identity or address changed, or whose verdict is older than refreshMs;
   * forgets nodes that are gone. Resolves true when any verdict changed.
   */
  async evaluate(targets: readonly LanTarget[], now = Date.now()): Promise<boolean> {
    const wanted = new Set(targets.map((t) => t.node))
    let changed = false
    for (const node of [...this.#verdicts.keys()]) {
      if (!wanted.has(node)) {
        changed ||= this.#verdicts.get(node)!.verdict.lan
        this.#verdicts.delete(node)
      }
    }
    // A failed probe is retried soon (1 s, doubling to 30 s): the peer may not have learnt our peer ID yet.
    const due = targets.filter((t) => {
      const v = this.#verdicts.get(t.node)
      if (!v || v.key !== keyOf(t)) return true
      const wait = v.verdict.lan ? this.#options.refreshMs : Math.min(1000 * 2 ** Math.max(0, v.failures - 1), 30_000)
      return now - v.at >= wait
    })
    const results = await Promise.all(due.map(async (t) => ({ t, verdict: await this.#probeOnce(t) })))
    for (const { t, verdict } of results) {
      const before = this.#verdicts.get(t.node)?.verdict
      if (!before || before.lan !== verdict.lan) {
        changed = true
        this.#log.info({ peer: t.node, lan: verdict.lan, reason: verdict.reason }, 'lan membership')
      }
      const prev = this.#verdicts.get(t.node)
      const failures = verdict.lan ? 0 : prev && prev.key === keyOf(t) ? prev.failures + 1 : 1
      this.#verdicts.set(t.node, { key: keyOf(t), verdict, at: now, failures })
    }
    return changed
  }

  #probeOnce(t: LanTarget): Promise<LanVerdict> {
    const running = this.#inFlight.get(t.node)
    if (running) return running
    const p = (async (): Promise<LanVerdict> => {
      if (t.internalIP === this.#options.selfIP) {
        // Dialling our own address reaches ourselves: a node with our IP is on another site by definition.
        return { lan: false, reason: `InternalIP ${t.internalIP} is also ours: ${t.node} is on another site` }
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
            lan: true,
            reason: `same LAN: ${t.internalIP} proved peer ${short(t.peerId)} and saw us as ${observedIP}`,
          }
        }
        return {
          lan: false,
          reason: `${t.internalIP} proved peer ${short(t.peerId)} but saw us as ${observedIP} (NAT between us)`,
        }
      } catch (err) {
        return {
          lan: false,
          reason: `no direct LAN path: dialling ${t.internalIP}:${t.port} for peer ${short(t.peerId)} failed (${describe(err)})`,
        }
      } finally {
        this.#inFlight.delete(t.node)
      }
    })()
    this.#inFlight.set(t.node, p)
    return p
  }
}

const keyOf = (t: LanTarget): string => `${t.peerId}@${t.internalIP}:${t.port}`
const short = (peerId: string): string => (peerId.length > 12 ? `…${peerId.slice(-6)}` : peerId)
function describe(err: unknown): string {
  if (err instanceof Error)
    return ((err as NodeJS.ErrnoException).code ?? err.name === 'Error') ? err.message.split('\n')[0]! : err.name
  return String(err)
}
