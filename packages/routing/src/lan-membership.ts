import type { EndpointClass } from '@podlink/core'
import { LAN_LABEL } from './node-facts.ts'

export interface NodePlacement {
  readonly class: EndpointClass
  readonly reason: string
}

/** Who this node is, as LAN decisions need it. */
export interface SelfContext {
  readonly self: string
  /** Self's `podlink.io/lan` label, or null. */
  readonly selfLan: string | null
  readonly lanPeers: ReadonlySet<string>
}

/**
 * Where a node sits relative to this one. Decided by node name and label, never by IP: two sites may use
 * the same addresses.
 *
 * - the node itself is `local`;
 * - when both nodes carry `podlink.io/lan`, the label decides (equal: `lan`, different: `mesh`), whatever
 *   the LAN prober found, because the operator's statement overrides the measurement;
 * - otherwise the LAN prober decides: `lan` when it proved the node shares this LAN, else `mesh`.
 *   A label on one side only states nothing about the other, so it does not decide.
 */
export function placeNode(ctx: SelfContext, name: string, lan: string | null): NodePlacement {
  if (name === ctx.self) return { class: 'local', reason: 'this node' }
  if (ctx.selfLan !== null && lan !== null) {
    return lan === ctx.selfLan
      ? { class: 'lan', reason: `same LAN: both nodes carry ${LAN_LABEL}=${lan}` }
      : { class: 'mesh', reason: `off LAN: ${LAN_LABEL}=${lan} differs from this node's ${ctx.selfLan}` }
  }
  return ctx.lanPeers.has(name)
    ? { class: 'lan', reason: 'same LAN: proven by the LAN prober' }
    : { class: 'mesh', reason: "off LAN: not proven to share this node's LAN" }
}
