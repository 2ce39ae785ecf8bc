import type { Connection, Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { PodlinkError } from '@podlink/core'
import { punchConnect } from '../punch/punch-connect.ts'
import { upgradePunchedSocket } from '../punch/upgrade-punched-socket.ts'
import type { MeshNode } from './create-mesh-node.ts'
import { closeQuietly, jsonLines } from './json-lines.ts'
import type { NatMapping } from './observe-mapping.ts'

/**
 * `/podlink/upgrade/1`, spoken over the relayed connection to turn it into a direct one:
 *   punch:    I -> R {type:connect, mode:punch, host, port, nat}; R -> I {type:connect, host, port, nat} or
 *             {type:refuse, reason}; I -> R {type:sync}. R punches when sync arrives, I half an RTT (measured by the
 *             connect exchange) after sending it, so both SYNs leave at about the same time (research/tcp-punch.md
 *             §8). Both connect from the mesh port until the deadline; the requester is the TLS/noise initiator and
 *             yamux client, whatever the sockets did.
 *   dialback: I (public) -> R {type:connect, mode:dialback, addrs}; R dials I directly (connection reversal) and
 *             answers {type:result, ok, reason}.
 */
export const UPGRADE_PROTOCOL = '/podlink/upgrade/1'

export type UpgradeMode = 'punch' | 'dialback'

export interface UpgradeDeps {
  readonly node: MeshNode
  readonly meshPort: number
  readonly punchDeadlineMs: number
  /** Our current mapping (cached by the mesh; refreshed when stale). */
  mapping(signal: AbortSignal): Promise<NatMapping>
  /** Null to go ahead, or why this peer may not upgrade now (lan peer, busy, not wanted). */
  refusal(peerId: string, mode: UpgradeMode): string | null
  /** Bracket a responder's attempt (the requester's own attempt is bracketed by the mesh). */
  responding(peerId: string, active: boolean): void
  /** A punched connection is up (both roles); dialback connections show up as ordinary inbound/outbound ones. */
  punched(peerId: string, connection: Connection): void
}

export type UpgradeResult = { ok: true } | { ok: false; reason: string; busy?: boolean }

const str = (v: unknown): string => (typeof v === 'string' ? v : '')

async function punchAndUpgrade(
  deps: UpgradeDeps,
  peerId: string,
  role: 'initiator' | 'responder',
  host: string,
  port: number,
  signal: AbortSignal,
): Promise<void> {
  const socket = await punchConnect(
    { localPort: deps.meshPort, remoteHost: host, remotePort: port, deadlineMs: deps.punchDeadlineMs },
    signal,
  )
  const connection = await upgradePunchedSocket(
    socket,
    { role, remotePeer: peerId, signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) },
    deps.node.components,
  )
  deps.punched(peerId, connection)
}

/** The requester's half. Never throws: a failure is a reason for the peer's status. */
export async function requestUpgrade(
  deps: UpgradeDeps,
  relayed: Connection,
  mode: UpgradeMode,
  dialbackAddrs: readonly string[],
  signal: AbortSignal,
): Promise<UpgradeResult> {
  const peerId = relayed.remotePeer.toString()
  let stream: Stream | undefined
  try {
    let mine: NatMapping | null = null
    if (mode === 'punch') {
      mine = await deps.mapping(signal)
      if (mine.kind === 'symmetric') return { ok: false, reason: `punch skipped: we are behind a ${mine.reason}` }
      if (mine.host === null || mine.port === null)
        return { ok: false, reason: `punch skipped: our mapping is unknown (${mine.reason})` }
    }
    stream = await relayed.newStream(UPGRADE_PROTOCOL, { signal, runOnLimitedConnection: true })
    const lines = jsonLines(stream)
    const t0 = performance.now()
    lines.write(
      mode === 'punch'
        ? { type: 'connect', mode, host: mine?.host, port: mine?.port, nat: mine?.kind }
        : { type: 'connect', mode, addrs: dialbackAddrs },
    )
    const reply = await lines.read(signal)
    const rtt = performance.now() - t0
    if (reply.type === 'refuse')
      return { ok: false, reason: `peer refused: ${str(reply.reason)}`, busy: reply.reason === 'busy' }
    if (mode === 'dialback') {
      if (reply.type === 'result' && reply.ok === true) return { ok: true }
      return { ok: false, reason: `dial-back failed: ${str(reply.reason)}` }
    }
    if (reply.type !== 'connect' || typeof reply.host !== 'string' || typeof reply.port !== 'number')
      return { ok: false, reason: 'punch failed: bad reply from peer' }
    lines.write({ type: 'sync' })
    await new Promise((resolve) => setTimeout(resolve, rtt / 2))
    await punchAndUpgrade(deps, peerId, 'initiator', reply.host, reply.port, signal)
    return { ok: true }
  } catch (err) {
    return { ok: false, reason: `${mode} failed: ${(err as Error).message ?? String(err)}` }
  } finally {
    if (stream !== undefined) await closeQuietly(stream)
  }
}

/** The responder's half, registered with `runOnLimitedConnection` (the signalling runs over relays). */
export function createUpgradeHandler(deps: UpgradeDeps): (stream: Stream, connection: Connection) => Promise<void> {
  return async (stream, connection) => {
    const peerId = connection.remotePeer.toString()
    const signal = AbortSignal.timeout(15_000)
    const lines = jsonLines(stream)
    let active = false
    try {
      const request = await lines.read(signal)
      const mode: UpgradeMode = request.mode === 'dialback' ? 'dialback' : 'punch'
      const refusal = deps.refusal(peerId, mode)
      if (refusal !== null) {
        lines.write({ type: 'refuse', reason: refusal })
        return
      }
      deps.responding(peerId, true)
      active = true
      if (mode === 'dialback') {
        const addrs = Array.isArray(request.addrs) ? request.addrs.map(str).filter(Boolean) : []
        let reason = 'no address offered'
        for (const addr of addrs) {
          try {
            await deps.node.libp2p.dial(multiaddr(`${addr}/p2p/${peerId}`), {
              force: true,
              signal: AbortSignal.any([signal, AbortSignal.timeout(5_000)]),
            })
            lines.write({ type: 'result', ok: true })
            return
          } catch (err) {
            reason = `${addr}: ${(err as Error).message}`
          }
        }
        lines.write({ type: 'result', ok: false, reason })
        return
      }
      const mine = await deps.mapping(signal)
      if (mine.kind === 'symmetric' || mine.host === null || mine.port === null) {
        lines.write({ type: 'refuse', reason: mine.reason ?? 'mapping unknown' })
        return
      }
      if (typeof request.host !== 'string' || typeof request.port !== 'number')
        throw new PodlinkError('SIGNAL_PROTOCOL', 'Cannot punch as the request has no address')
      lines.write({ type: 'connect', host: mine.host, port: mine.port, nat: mine.kind })
      const sync = await lines.read(signal)
      if (sync.type !== 'sync') return
      await punchAndUpgrade(deps, peerId, 'responder', request.host, request.port, signal)
    } catch {
      // The requester records the reason; the responder stays on the relayed connection.
    } finally {
      if (active) deps.responding(peerId, false)
      await closeQuietly(stream)
    }
  }
}
