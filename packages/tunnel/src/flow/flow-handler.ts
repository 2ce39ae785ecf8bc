import type net from 'node:net'
import type { Connection, Stream } from '@libp2p/interface'
import { readSocketPrefix } from '../fast/read-socket-prefix.ts'
import { checkExit, type ExitPolicy } from './check-exit.ts'
import { createFlowHeaderDecoder } from './flow-header.ts'
import { encodeFlowResponse } from './flow-response.ts'
import { FLOW_REFUSALS, type FlowHeader, FlowProtocolError, type FlowRefusal } from './flow-types.ts'
import { readPrefix } from './read-prefix.ts'

/**
 * The reason every flow's `ended` signal carries: one preallocated value, since `abort()` with none builds a
 * DOMException with a stack per flow (~50 us of the exit's CPU per connection in a profile of 1000 new connections).
 */
const STREAM_ENDED = new Error('The flow stream ended')

/** A flow the exit side admitted: header decoded, policy passed, under the per-peer limit. */
export interface AcceptedFlow {
  readonly header: FlowHeader
  /** Peer ID of the sender, as authenticated by the connection. */
  readonly peer: string
}

/**
 * Takes over the stream once the ok response is written; resolves when the flow is over. Always run once `connect`
 * returned it, even on a stream that closed meanwhile (the signal is then already aborted), so that it releases
 * the destination connection it holds.
 */
export type FlowSplice<S = Stream> = (stream: S, options: { signal: AbortSignal }) => Promise<void>

/** The proxy's half of the exit: dial the destination, then splice. */
export interface FlowExit<S = Stream> {
  /**
   * Dial `flow.header.dst`. Reject with FlowProtocolError `connect-failed` / `connect-timeout` to refuse with that
   * reason (any other rejection is sent as `connect-failed`). The signal fires at the connect timeout.
   */
  connect(flow: AcceptedFlow, options: { signal: AbortSignal }): Promise<FlowSplice<S>>
}

export interface FlowHandlerOptions {
  /** The whole header must arrive within this (slow-loris guard). Default 5000 ms. */
  readonly headerTimeoutMs?: number
  /** Dialling the destination must finish within this. Default 10000 ms. */
  readonly connectTimeoutMs?: number
  /**
   * A fast-channel socket is dialled ahead of its flow (the sender keeps a few ready), so its header may come this
   * long after the socket was proven. Default 60000 ms.
   */
  readonly socketHeaderTimeoutMs?: number
  /** Concurrent flows one peer may hold open here. Default 1024. */
  readonly maxFlowsPerPeer?: number
  /** Read per flow, so a new policy applies to the next flow without re-registering the handler. */
  readonly policy: () => ExitPolicy
}

export interface FlowHandlerComponents {
  readonly exit: FlowExit
  /** The exit for flows on fast-channel sockets; without it such sockets are closed. */
  readonly socketExit?: FlowExit<net.Socket>
}

export interface FlowHandler {
  /** Register with `libp2p.handle(FLOW_PROTOCOL, handler.handle)`. Never rejects. */
  handle(stream: Stream, connection: Connection): Promise<void>
  /**
   * Serve one flow on a fast-channel socket of `peer` (authenticated by its certificate, PSK proven): the same
   * header, checks, per-peer limit, refusals and counters as a libp2p stream. Owns the socket. Never rejects.
   */
  handleSocket(socket: net.Socket, peer: string): Promise<void>
  flowsOf(peer: string): number
  /** Refusals sent since start, by reason (for metrics). */
  refusals(): Readonly<Record<FlowRefusal, number>>
}

export function createFlowHandler(options: FlowHandlerOptions, components: FlowHandlerComponents): FlowHandler {
  const headerTimeoutMs = options.headerTimeoutMs ?? 5_000
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000
  const maxFlowsPerPeer = options.maxFlowsPerPeer ?? 1024
  const active = new Map<string, number>()
  const refused = Object.fromEntries(FLOW_REFUSALS.map((r) => [r, 0])) as Record<FlowRefusal, number>

  /** Answer with a refusal, discard what the sender still sends, and close. */
  async function refuse(stream: Stream, reason: FlowRefusal): Promise<void> {
    refused[reason]++
    try {
      stream.send(encodeFlowResponse({ ok: false, reason }))
      await stream.closeRead()
      await stream.close({ signal: AbortSignal.timeout(headerTimeoutMs) })
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  async function run(stream: Stream, peer: string): Promise<void> {
    const header = await readPrefix(stream, createFlowHeaderDecoder(), 'header-timeout', {
      signal: AbortSignal.timeout(headerTimeoutMs),
    })
    const verdict = checkExit({ ...header.dst, protocol: header.protocol, service: header.service }, options.policy())
    if (!verdict.ok) throw new FlowProtocolError(verdict.reason, `Cannot exit to ${header.dst.ip} as ${verdict.reason}`)
    let splice: FlowSplice
    try {
      splice = await components.exit.connect({ header, peer }, { signal: AbortSignal.timeout(connectTimeoutMs) })
    } catch (err) {
      if (err instanceof FlowProtocolError) throw err
      throw new FlowProtocolError('connect-failed', `Cannot connect to ${header.dst.ip}:${header.dst.port}`, {
        cause: err,
      })
    }
    // From here on a failure can no longer be answered with a response: it resets the stream. The splice owns the
    // destination connection, so it runs whatever happens to the stream: a sender that went away while we dialled
    // (a closed or reset stream, on which the ok cannot be written) still ends in a splice that releases it.
    const ended = new AbortController()
    stream.addEventListener('close', () => ended.abort(STREAM_ENDED), { once: true })
    if (stream.status !== 'open') ended.abort(STREAM_ENDED)
    try {
      // The ok is the first byte back: the splice writes destination bytes only after it.
      if (stream.writeStatus === 'writable') stream.send(encodeFlowResponse({ ok: true }))
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      ended.abort(STREAM_ENDED)
    }
    try {
      await splice(stream, { signal: ended.signal })
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /** Answer with a refusal, close our side, and drop whatever the sender still sends. */
  function refuseSocket(socket: net.Socket, reason: FlowRefusal): void {
    refused[reason]++
    socket.on('data', () => {})
    socket.resume()
    socket.end(encodeFlowResponse({ ok: false, reason }))
    setTimeout(() => socket.destroy(), headerTimeoutMs).unref()
  }

  async function runSocket(socket: net.Socket, peer: string, exit: FlowExit<net.Socket>): Promise<void> {
    const decoder = createFlowHeaderDecoder()
    let received = 0
    const counting = {
      get remainder() {
        return decoder.remainder
      },
      push(chunk: Parameters<typeof decoder.push>[0]) {
        received += chunk.byteLength
        return decoder.push(chunk)
      },
    }
    let header: FlowHeader
    try {
      header = await readSocketPrefix(socket, counting, 'header-timeout', {
        signal: AbortSignal.timeout(options.socketHeaderTimeoutMs ?? 60_000),
      })
    } catch (err) {
      // A ready socket the sender closed unused (or let idle past our limit) is no refusal: close it quietly.
      if (received === 0) {
        socket.destroy()
        return
      }
      throw err
    }
    const verdict = checkExit({ ...header.dst, protocol: header.protocol, service: header.service }, options.policy())
    if (!verdict.ok) throw new FlowProtocolError(verdict.reason, `Cannot exit to ${header.dst.ip} as ${verdict.reason}`)
    let splice: FlowSplice<net.Socket>
    try {
      splice = await exit.connect({ header, peer }, { signal: AbortSignal.timeout(connectTimeoutMs) })
    } catch (err) {
      if (err instanceof FlowProtocolError) throw err
      throw new FlowProtocolError('connect-failed', `Cannot connect to ${header.dst.ip}:${header.dst.port}`, {
        cause: err,
      })
    }
    const ended = new AbortController()
    socket.once('close', () => ended.abort(STREAM_ENDED))
    if (socket.destroyed) ended.abort(STREAM_ENDED)
    else if (socket.writable) socket.write(encodeFlowResponse({ ok: true }))
    try {
      await splice(socket, { signal: ended.signal })
    } catch {
      socket.destroy()
    }
  }

  return {
    async handleSocket(socket: net.Socket, peer: string): Promise<void> {
      const exit = components.socketExit
      if (exit === undefined) {
        socket.destroy()
        return
      }
      const count = active.get(peer) ?? 0
      if (count >= maxFlowsPerPeer) {
        refuseSocket(socket, 'too-many-flows')
        return
      }
      active.set(peer, count + 1)
      try {
        await runSocket(socket, peer, exit)
      } catch (err) {
        if (err instanceof FlowProtocolError && socket.writable && !socket.destroyed) refuseSocket(socket, err.reason)
        else socket.destroy()
      } finally {
        const left = (active.get(peer) ?? 1) - 1
        if (left === 0) active.delete(peer)
        else active.set(peer, left)
      }
    },
    async handle(stream: Stream, connection: Connection): Promise<void> {
      const peer = connection.remotePeer.toString()
      const count = active.get(peer) ?? 0
      if (count >= maxFlowsPerPeer) {
        await refuse(stream, 'too-many-flows')
        return
      }
      active.set(peer, count + 1)
      try {
        await run(stream, peer)
      } catch (err) {
        if (err instanceof FlowProtocolError && stream.writeStatus === 'writable') await refuse(stream, err.reason)
        else stream.abort(err instanceof Error ? err : new Error(String(err)))
      } finally {
        const left = (active.get(peer) ?? 1) - 1
        if (left === 0) active.delete(peer)
        else active.set(peer, left)
      }
    },
    flowsOf(peer: string): number {
      return active.get(peer) ?? 0
    },
    refusals() {
      return { ...refused }
    },
  }
}
