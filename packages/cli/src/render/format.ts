/** Value formatting shared by every renderer: pure, locale-independent, `-` for absent values. */
import type { PathKind } from '@podlink/core'

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const

/** 1536 -> "1.5KiB"; binary units because socket counters are bytes, not bits. */
export function formatBytes(n: number): string {
  let v = n
  let u = 0
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024
    u++
  }
  return u === 0 ? `${v}B` : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)}${UNITS[u]}`
}

/** Elapsed time since `iso` as the largest two units: "45s", "3m10s", "2h5m", "2d1h"; "-" when null. */
export function formatAge(iso: string | null, now: Date): string {
  if (iso === null) return '-'
  const s = Math.max(0, Math.floor((now.getTime() - Date.parse(iso)) / 1000))
  if (Number.isNaN(s)) return '?'
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`
}

export function formatRtt(ms: number | null): string {
  if (ms === null) return '-'
  return ms < 10 ? `${ms.toFixed(1)}ms` : `${Math.round(ms)}ms`
}

/**
 * A peer ID shortened the way the operator compares them: the 12D3KooW prefix is common to every
 * Ed25519 key, so the first 6 characters after it plus the last 4 identify a peer in practice.
 */
export function shortPeerId(id: string | null): string {
  if (id === null || id === '') return '-'
  const body = id.startsWith('12D3KooW') ? id.slice(8) : id
  return body.length <= 12 ? body : `${body.slice(0, 6)}…${body.slice(-4)}`
}

/** `relay via edge-b1` for relayed paths, the path kind otherwise. */
export function formatPath(path: PathKind, relay: string | null): string {
  return path === 'relay' ? `relay via ${relay ?? '?'}` : path
}

/** The first address of a multiaddr list as host:port when it is a plain ip4/ip6 tcp/udp one. */
export function formatAddress(addrs: readonly string[]): string {
  const a = addrs[0]
  if (a === undefined) return '-'
  const m = /^\/(ip4|ip6|dns4|dns6|dns)\/([^/]+)\/(tcp|udp)\/(\d+)/.exec(a)
  if (!m) return a
  const host = m[1] === 'ip6' ? `[${m[2]}]` : m[2]
  return `${host}:${m[4]}${a.includes('/p2p-circuit') ? ' (circuit)' : ''}`
}
