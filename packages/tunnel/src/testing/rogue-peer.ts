/**
 * A libp2p peer that misbehaves towards a real agent, run inside a lab namespace (issue 9, attacks and bad input):
 *   node rogue-peer.ts '{"keyFile","pskFile","members":[peer IDs it may dial]}'
 * Prints {"peerId"} once started, then answers one JSON line per JSON command on stdin:
 *   {cmd:"dial", addr}                          connect; {ok, error?}
 *   {cmd:"flow", addr, header}                  one flow stream with a well-formed header; {ok, reason?}
 *   {cmd:"raw", addr, hexes, holdMs?}           one flow stream per byte string, sent as its header; answers by verdict
 *   {cmd:"silent", addr, count}                 `count` flow streams that never send a header; each one's fate
 *   {cmd:"frames", addr, header, hex}           a UDP flow, then these bytes as its datagram frames; what came back
 *   {cmd:"fast", host, port, peer, header?}     the fast channel: dial it (TLS with our identity, PSK proof) and, if
 *                                               admitted and given a header, send it; {ok, stage, reason?}
 * It speaks the real flow protocol (the tunnel package's codecs): only its intentions are bad.
 */
import { createInterface } from 'node:readline'
import type { Connection, Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import {
  createMeshNode,
  dialFast,
  encodeFlowHeader,
  FLOW_PROTOCOL,
  FLOW_REFUSALS,
  type FlowHeader,
  fastCredentials,
  loadOrCreateIdentityKey,
  loadSwarmKey,
  openFastFlow,
  readFlowResponse,
} from '../index.ts'

const config = JSON.parse(process.argv[2] ?? '{}') as { keyFile: string; pskFile: string; members?: string[] }
// An agent's own kind of node (a mesh node: up to MESH_STREAMS_PER_CONNECTION streams on one connection), so a flood
// can pass the exit's per-peer flow limit on a single connection, as a hostile peer free to configure its muxer can.
const privateKey = await loadOrCreateIdentityKey(config.keyFile)
const swarmKey = await loadSwarmKey(config.pskFile)
const node = await createMeshNode(
  {
    listen: ['/ip4/0.0.0.0/tcp/0'],
    psk: { key: swarmKey, mode: 'proof' },
    members: config.members ?? [],
  },
  { privateKey },
)
const fast = await fastCredentials(privateKey, swarmKey.key)
const say = (o: object): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`)
}

async function connection(addr: string): Promise<Connection> {
  return node.libp2p.dial(multiaddr(addr), { signal: AbortSignal.timeout(10_000) })
}

/**
 * Reads what the agent sends back on a stream until it ends or `ms` pass: the response code and what followed;
 * `verdictAt` is when the 2-byte response had arrived (performance.now()), null if it never did.
 */
async function collect(
  stream: Stream,
  ms: number,
  started = performance.now(),
): Promise<{ bytes: number[]; ended: string; ms: number; verdictAt: number | null }> {
  const bytes: number[] = []
  let ended = 'timeout'
  let verdictAt: number | null = null
  const timer = setTimeout(() => stream.abort(new Error('rogue: enough')), ms)
  try {
    for await (const chunk of stream) {
      for (const part of chunk instanceof Uint8Array ? [chunk] : chunk) bytes.push(...part.subarray(0, 64))
      if (verdictAt === null && bytes.length >= 2) verdictAt = performance.now()
      if (bytes.length >= 64) break
    }
    ended = 'end'
  } catch (err) {
    ended = String((err as Error).message ?? err).slice(0, 120)
  } finally {
    clearTimeout(timer)
    // Done with it either way: a stream left half-open would count against the outbound stream limit.
    if (stream.status === 'open') stream.abort(new Error('rogue: done'))
  }
  return { bytes: bytes.slice(0, 64), ended, ms: Math.round(performance.now() - started), verdictAt }
}

/** The refusal a 2-byte response names (flow-response.ts: [version, code]; code 0 is ok, code n is FLOW_REFUSALS[n-1]). */
const REFUSALS: readonly string[] = ['ok', ...FLOW_REFUSALS]
const verdict = (bytes: readonly number[]): string =>
  bytes.length < 2 ? 'no response' : (REFUSALS[bytes[1] ?? -1] ?? `code ${bytes[1]}`)

/** A flood needs more than libp2p's default of 64 outbound streams per protocol. */
const STREAM_OPTIONS = () => ({ signal: AbortSignal.timeout(5000), maxOutboundStreams: 4096 })

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))

async function handle(cmd: Record<string, unknown>): Promise<object> {
  const addr = String(cmd.addr ?? '')
  switch (cmd.cmd) {
    case 'dial': {
      const started = performance.now()
      try {
        const c = await connection(addr)
        // A gated connection can be closed right after it opened: it counts only if a stream works on it.
        const s = await c.newStream(FLOW_PROTOCOL, STREAM_OPTIONS())
        s.abort(new Error('rogue: probe only'))
        return { ok: true, ms: Math.round(performance.now() - started) }
      } catch (err) {
        return { ok: false, error: String((err as Error).message ?? err).slice(0, 200) }
      }
    }
    case 'flow': {
      const c = await connection(addr)
      const s = await c.newStream(FLOW_PROTOCOL, STREAM_OPTIONS())
      s.send(encodeFlowHeader(cmd.header as FlowHeader))
      try {
        const r = await readFlowResponse(s, { signal: AbortSignal.timeout(15_000) })
        return r
      } catch (err) {
        return { ok: false, reason: `error: ${String((err as Error).message ?? err).slice(0, 120)}` }
      } finally {
        s.abort(new Error('rogue: done'))
      }
    }
    case 'raw': {
      // Each hex string on its own stream, 16 at a time; the answers by verdict.
      const c = await connection(addr)
      const hexes = (cmd.hexes as string[] | undefined) ?? [String(cmd.hex)]
      const byVerdict: Record<string, number> = {}
      const endings: Record<string, number> = {}
      let next = 0
      await Promise.all(
        Array.from({ length: Math.min(16, hexes.length) }, async () => {
          while (next < hexes.length) {
            const data = hex(hexes[next++] ?? '')
            const s = await c.newStream(FLOW_PROTOCOL, STREAM_OPTIONS())
            for (let o = 0; o < data.length; o += 16_384) s.send(data.subarray(o, o + 16_384))
            const r = await collect(s, Number(cmd.holdMs ?? 10_000))
            const v = verdict(r.bytes)
            byVerdict[v] = (byVerdict[v] ?? 0) + 1
            const e = r.ended.replace(/\d+/g, 'N')
            endings[e] = (endings[e] ?? 0) + 1
          }
        }),
      )
      return { sent: hexes.length, byVerdict, endings }
    }
    case 'silent': {
      const c = await connection(addr)
      const count = Number(cmd.count)
      const opened: Array<Promise<{ bytes: number[]; verdictAt: number | null; requested: number; open: number }>> = []
      const openErrors: string[] = []
      const openedAt = performance.now()
      // All at once, so that they are open together well within the agent's 5 s header timeout.
      await Promise.all(
        Array.from({ length: count }, async () => {
          try {
            const requested = performance.now()
            const s = await c.newStream(FLOW_PROTOCOL, { ...STREAM_OPTIONS(), signal: AbortSignal.timeout(30_000) })
            const open = performance.now()
            opened.push(collect(s, Number(cmd.holdMs ?? 15_000), open).then((f) => ({ ...f, requested, open })))
          } catch (err) {
            openErrors.push(String((err as Error).message ?? err).slice(0, 80))
          }
        }),
      )
      const openMs = Math.round(performance.now() - openedAt)
      const fates = await Promise.all(opened)
      // Each verdict is timed both ways: from the stream's request, which the agent's handler cannot precede (so a
      // lower bound of the agent's own wait: `fastest`), and from its opening here, which cannot precede the handler
      // (so an upper bound: `slowest`). Opening 1,000 streams at once on a loaded machine puts seconds between them.
      const byVerdict: Record<string, number> = {}
      const slowest: Record<string, number> = {}
      const fastest: Record<string, number> = {}
      for (const f of fates) {
        const v = verdict(f.bytes)
        byVerdict[v] = (byVerdict[v] ?? 0) + 1
        if (f.verdictAt === null) continue
        slowest[v] = Math.max(slowest[v] ?? 0, Math.round(f.verdictAt - f.open))
        fastest[v] = Math.min(fastest[v] ?? Number.POSITIVE_INFINITY, Math.round(f.verdictAt - f.requested))
      }
      return { opened: opened.length, openMs, openErrors: [...new Set(openErrors)], byVerdict, fastest, slowest }
    }
    case 'frames': {
      const c = await connection(addr)
      const s = await c.newStream(FLOW_PROTOCOL, STREAM_OPTIONS())
      s.send(encodeFlowHeader(cmd.header as FlowHeader))
      const data = hex(String(cmd.hex))
      for (let o = 0; o < data.length; o += 16_384) s.send(data.subarray(o, o + 16_384))
      const r = await collect(s, Number(cmd.holdMs ?? 5_000))
      return { ...r, verdict: verdict(r.bytes) }
    }
    case 'fast': {
      let socket: Awaited<ReturnType<typeof dialFast>>
      try {
        socket = await dialFast({
          host: String(cmd.host),
          port: Number(cmd.port),
          peer: String(cmd.peer),
          credentials: fast,
          signal: AbortSignal.timeout(5000),
        })
      } catch (err) {
        return { ok: false, stage: 'dial', reason: String((err as Error).message ?? err).slice(0, 200) }
      }
      try {
        if (cmd.header === undefined) return { ok: true, stage: 'dial' }
        const r = await openFastFlow(socket, cmd.header as FlowHeader, { signal: AbortSignal.timeout(15_000) })
        return { ...r, stage: 'flow' }
      } catch (err) {
        return { ok: false, stage: 'flow', reason: `error: ${String((err as Error).message ?? err).slice(0, 120)}` }
      } finally {
        socket.destroy()
      }
    }
    default:
      return { error: `unknown command ${String(cmd.cmd)}` }
  }
}

say({ peerId: node.peerId })
for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as Record<string, unknown>
  try {
    say({ id: cmd.id, ...(await handle(cmd)) })
  } catch (err) {
    say({ id: cmd.id, error: String((err as Error).message ?? err).slice(0, 300) })
  }
}
