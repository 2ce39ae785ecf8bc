import type { AgentStatus, PeerStatus } from '@podlink/core'
import { type Paint, pathStyle } from './colour.ts'
import { formatAddress, formatAge, formatBytes, formatPath, formatRtt, shortPeerId } from './format.ts'
import { renderTable } from './render-table.ts'

const PATH_ORDER: Readonly<Record<PeerStatus['path'], number>> = { lan: 0, direct: 1, punched: 2, relay: 3, none: 4 }

/** Peers sorted by path quality (LAN first, unreachable last), then by node name. */
export function sortPeers(peers: readonly PeerStatus[]): PeerStatus[] {
  return [...peers].sort((a, b) => PATH_ORDER[a.path] - PATH_ORDER[b.path] || a.node.localeCompare(b.node))
}

/**
 * The fast channel in a word: `-` never wanted (UDP, LAN, relayed or punched peers use libp2p streams), `on` while
 * dials succeed (with the ready connections, and `native` when its flows ride the native relay, `tls` when one of
 * the two agents lacks it), `failing` while they do not (the reason goes to REASON).
 */
export function formatFast(p: PeerStatus): string {
  if (!p.fast) return '-'
  if (p.fast.failures > 0) return 'failing'
  const records = p.fast.records === 'sealed' ? ', native' : p.fast.records === 'tls' ? ', tls' : ''
  return `on (${p.fast.ready} ready${records})`
}

/**
 * `podlink peers`: one row per peer. REASON is shown for every path but `direct` (and for `direct` when
 * the agent recorded why an upgrade failed, or the fast channel fails), so "why is this relayed?" is answered on the same line.
 */
export function renderPeers(s: AgentStatus, now: Date, paint: Paint): string {
  if (s.peers.length === 0) return `no peers known to ${s.node} yet`
  const columns = [
    { header: 'NODE' },
    { header: 'LAN' },
    { header: 'PEER' },
    { header: 'PATH' },
    { header: 'ADDRESS' },
    { header: 'RTT', right: true },
    { header: 'TX', right: true },
    { header: 'RX', right: true },
    { header: 'FLOWS', right: true },
    { header: 'FAST' },
    { header: 'SINCE', right: true },
    { header: 'REASON' },
  ]
  const rows = sortPeers(s.peers).map((p) => [
    p.node,
    p.lan ? 'yes' : 'no',
    shortPeerId(p.peerId),
    { text: formatPath(p.path, p.relay), style: pathStyle(p.path) },
    formatAddress(p.addrs),
    formatRtt(p.rttMs),
    formatBytes(p.txBytes),
    formatBytes(p.rxBytes),
    String(p.flows),
    formatFast(p),
    formatAge(p.since, now),
    {
      text:
        p.path === 'direct' && p.reason === null
          ? p.fast?.failures
            ? `fast channel: ${p.fast.lastError ?? 'dial failed'}`
            : ''
          : (p.reason ?? '-'),
      style: p.path === 'none' ? ('red' as const) : ('dim' as const),
    },
  ])
  return renderTable(columns, rows, paint)
}
