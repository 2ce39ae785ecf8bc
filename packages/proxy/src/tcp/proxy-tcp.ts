import type net from 'node:net'
import { type PathKind, PodlinkError, type ServiceEndpoint, type ServiceEntry } from '@podlink/core'
import type { EndpointBalancer } from '../balance/endpoint-balancer.ts'
import { endpointId } from '../balance/pick-endpoint.ts'
import type { FlowRegistry, TrackedFlow } from '../registry/flow-registry.ts'
import type { FlowAddress, FlowRequest, FlowStream, OpenFlowStream, Timers } from '../stream/flow-stream.ts'
import { socketFlowStream } from '../stream/socket-flow-stream.ts'
import { splice } from '../stream/splice.ts'
import { connected, timeoutController } from './connect-socket.ts'

/** Where a captured flow may go: a ClusterIP (its endpoints are balanced) or a pod IP (one fixed endpoint). */
export type FlowTarget =
  | { readonly kind: 'service'; readonly entry: ServiceEntry }
  | { readonly kind: 'pod'; readonly endpoint: ServiceEndpoint }

export interface CapturedFlow {
  readonly source: FlowAddress
  /** The original destination (SO_ORIGINAL_DST / IP_ORIGDSTADDR). */
  readonly destination: FlowAddress
  readonly target: FlowTarget
}

export interface SenderDeps {
  readonly balancer: EndpointBalancer
  readonly registry: FlowRegistry
  readonly timers: Timers
  /** Node name -> peer ID of its agent; null when unknown (the endpoint then counts as failed). */
  peerOf(node: string): string | null
  /** The path the mesh uses to `peer` now, for FlowStatus. */
  pathOf?(peer: string): PathKind
  readonly openFlowStream: OpenFlowStream
  /** A TCP connection the capture rules skip (the dataplane's createMarkedTcpConnection). */
  connectDirect(ip: string, port: number): net.Socket
}

export interface TcpProxyOptions {
  /** Per attempt: TCP connect, or flow open + the exit's answer. Default 10 s. */
  readonly connectTimeoutMs?: number
  /**
   * Both directions silent this long: the flow is reset. Default 1 h: longer than any sane keep-alive interval, short
   * enough that a flow whose far side vanished without a reset gives its slot back.
   */
  readonly idleTimeoutMs?: number
  /**
   * Client bytes held for replay while an attempt is pending; the client is paused past it. A refused or failed
   * attempt is retried on the next endpoint with these bytes, so the retry is invisible. Default 64 KiB.
   */
  readonly firstBytesLimit?: number
  /** Endpoints tried per flow. Default 3. */
  readonly maxAttempts?: number
}

export interface TcpFlowOutcome {
  readonly id: string | null
  /** `ip:port` of the endpoint that carried the flow, null when none did. */
  readonly endpoint: string | null
  readonly attempts: number
  readonly txBytes: number
  readonly rxBytes: number
  /** Null when both directions ended cleanly. */
  readonly error: Error | null
}

interface Candidate {
  readonly endpoint: ServiceEndpoint
  readonly direct: boolean
}

/**
 * Carry one captured TCP connection to an endpoint: directly (local, same LAN) or over a mesh flow whose header is
 * followed at once by the client's first bytes. Resolves when the flow is over; never rejects (the client is reset
 * on failure). Endpoint failures before the first byte reached the client are retried on the next endpoint.
 */
export async function proxyTcp(
  client: FlowStream,
  flow: CapturedFlow,
  deps: SenderDeps,
  options: TcpProxyOptions = {},
): Promise<TcpFlowOutcome> {
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000
  const maxAttempts = options.maxAttempts ?? 3
  const dest = endpointId(flow.destination)
  const entry = flow.target.kind === 'service' ? flow.target.entry : null
  let tracked: TrackedFlow
  try {
    tracked = deps.registry.open({
      protocol: 'tcp',
      source: endpointId(flow.source),
      destination: dest,
      endpoint: dest,
      service: entry === null ? null : `${entry.service}:${entry.portName || entry.port}`,
      peer: '',
      path: 'none',
    })
  } catch (err) {
    client.abort(asError(err))
    return { id: null, endpoint: null, attempts: 0, txBytes: 0, rxBytes: 0, error: asError(err) }
  }
  const setup = holdFirstBytes(client, options.firstBytesLimit ?? 64 * 1024)
  const failed = new Set<string>()
  let attempts = 0
  let staleRetried = false
  let lastError: Error | null = null
  try {
    while (attempts < maxAttempts && setup.clientError === null) {
      const candidate = choose(flow, deps, failed)
      if (candidate === null) break
      attempts++
      const id = endpointId(candidate.endpoint)
      const peer = candidate.direct ? '' : (deps.peerOf(candidate.endpoint.node ?? '') ?? null)
      tracked.info.endpoint = id
      tracked.info.peer = peer ?? ''
      tracked.info.path = candidate.direct ? 'lan' : peer === null ? 'none' : (deps.pathOf?.(peer) ?? 'none')
      const timeout = timeoutController(deps.timers, connectTimeoutMs, id)
      const signal = AbortSignal.any([timeout.controller.signal, setup.signal])
      let stream: FlowStream | null = null
      try {
        if (peer === null) {
          throw new PodlinkError('PROXY_NO_PEER', `Cannot reach ${id} as node ${candidate.endpoint.node} has no peer`)
        }
        if (candidate.direct) {
          const socket = await connected(deps.connectDirect(candidate.endpoint.ip, candidate.endpoint.port), id, signal)
          tracked.info.channel = null
          stream = socketFlowStream(socket)
          setup.attach(stream)
        } else {
          const opened = await deps.openFlowStream(peer, header(flow, candidate.endpoint, entry), { signal })
          stream = opened.stream
          tracked.info.channel = opened.channel ?? 'libp2p'
          // The first bytes go right behind the header: no round trip before the client's request leaves.
          setup.attach(stream)
          const answer = await raceSignal(opened.answer, signal)
          if (!answer.ok) {
            throw new PodlinkError('PROXY_REFUSED', `Cannot open a flow to ${id} as the exit refused: ${answer.reason}`)
          }
        }
      } catch (err) {
        setup.detach()
        const error = setup.clientError ?? (signal.aborted ? asError(signal.reason) : asError(err))
        stream?.abort(error)
        lastError = error
        // A dead pooled channel (FLOW_CHANNEL_STALE) says nothing about the endpoint: it is tried once more.
        if ((error as { code?: string }).code === 'FLOW_CHANNEL_STALE' && !staleRetried) {
          staleRetried = true
          continue
        }
        failed.add(id)
        if (setup.clientError === null) deps.balancer.reportFailure(candidate.endpoint)
        continue
      } finally {
        timeout.clear()
      }
      setup.detach()
      client.resume()
      const sp = splice(client, stream, {
        timers: deps.timers,
        idleTimeoutMs: options.idleTimeoutMs ?? 3_600_000,
        aEnded: setup.ended,
        aToBBytes: setup.bytes,
      })
      tracked.counters = () => ({ txBytes: sp.aToB, rxBytes: sp.bToA })
      const result = await sp.done
      if (entry !== null) deps.balancer.touch(entry, flow.source.ip)
      return { id: tracked.id, endpoint: id, attempts, txBytes: result.aToB, rxBytes: result.bToA, error: result.error }
    }
    const error =
      setup.clientError ??
      lastError ??
      new PodlinkError('PROXY_NO_ENDPOINT', `Cannot proxy ${dest} as no ready endpoint is left`)
    client.abort(error)
    return { id: tracked.id, endpoint: null, attempts, txBytes: 0, rxBytes: 0, error }
  } finally {
    tracked.close()
  }
}

function choose(flow: CapturedFlow, deps: SenderDeps, failed: ReadonlySet<string>): Candidate | null {
  if (flow.target.kind === 'pod') {
    const e = flow.target.endpoint
    return failed.has(endpointId(e)) ? null : { endpoint: e, direct: e.class !== 'mesh' }
  }
  const pick = deps.balancer.pick(flow.target.entry, flow.source.ip, failed)
  return pick === null ? null : { endpoint: pick.endpoint, direct: pick.tier !== 'mesh' }
}

function header(flow: CapturedFlow, endpoint: ServiceEndpoint, entry: ServiceEntry | null): FlowRequest {
  return {
    protocol: 'tcp',
    dst: { ip: endpoint.ip, port: endpoint.port },
    src: flow.source.ip,
    service: entry !== null,
    serviceKey: entry === null ? '' : `${entry.service}:${entry.portName || entry.port}`,
  }
}

interface FirstBytes {
  readonly bytes: number
  readonly ended: boolean
  /** Set when the client reset or vanished during setup: no retry then. */
  readonly clientError: Error | null
  /** Fires with clientError. */
  readonly signal: AbortSignal
  /** Send what was held to `stream`, then everything new as it arrives. */
  attach(stream: FlowStream): void
  detach(): void
}

/** Read the client during setup, keeping every byte for a replay, pausing it at `limit`. */
function holdFirstBytes(client: FlowStream, limit: number): FirstBytes {
  const chunks: Uint8Array[] = []
  const gone = new AbortController()
  let bytes = 0
  let ended = false
  let clientError: Error | null = null
  let current: FlowStream | null = null
  const state: FirstBytes = {
    get bytes() {
      return bytes
    },
    get ended() {
      return ended
    },
    get clientError() {
      return clientError
    },
    signal: gone.signal,
    attach(stream) {
      for (const c of chunks) stream.send(c)
      current = stream
    },
    detach() {
      current = null
    },
  }
  client.start({
    onData(chunk) {
      chunks.push(chunk)
      bytes += chunk.length
      try {
        current?.send(chunk)
      } catch {
        // The attempt's stream failed; its answer (or connect) rejects and the bytes are replayed to the next.
        current = null
      }
      if (bytes >= limit) client.pause()
    },
    onEnd() {
      ended = true
    },
    onDrain() {},
    onClose(error) {
      clientError =
        error ?? new PodlinkError('PROXY_CLIENT_GONE', 'Cannot proxy the flow as the client closed during setup')
      gone.abort(clientError)
    },
  })
  return state
}

function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
