import type dgram from 'node:dgram'
import type net from 'node:net'
import { type FlowChannel, PodlinkError } from '@podlink/core'
import { endpointId } from '../balance/pick-endpoint.ts'
import type { FlowRegistry, TrackedFlow } from '../registry/flow-registry.ts'
import type { FlowRequest, FlowStream, Timers } from '../stream/flow-stream.ts'
import { socketFlowStream } from '../stream/socket-flow-stream.ts'
import { splice } from '../stream/splice.ts'
import { type DatagramFraming, udpExitSplice } from '../udp/udp-exit.ts'
import { connected } from './connect-socket.ts'

/** The refusals the exit may give when dialling the destination fails (the tunnel's FlowRefusal subset). */
export type ConnectRefusal = 'connect-failed' | 'connect-timeout'

export interface FlowExitDeps<S> {
  /** The tunnel's stream as a FlowStream (`messageStreamFlowStream` for libp2p). */
  adapt(stream: S): FlowStream
  /**
   * A TCP connection to a pod (or hostNetwork endpoint) of this node. `attempt` counts from 1: a connection that
   * failed with EADDRNOTAVAIL is made again, and the last attempt (CONNECT_ATTEMPTS) should let the kernel choose the
   * local port.
   */
  connectPod(ip: string, port: number, attempt?: number): net.Socket
  /** A UDP socket for one flow to a pod; it is `connect`ed to the pod and closed with the flow. */
  createUdpSocket?(family: 4 | 6): dgram.Socket
  /** The tunnel's datagram framing (encodeDatagram, createDatagramDecoder). Required for UDP flows. */
  readonly framing?: DatagramFraming
  /**
   * The error that makes the tunnel's flow handler answer with `reason` (the agent passes
   * `(r, m, cause) => new FlowProtocolError(r, m, { cause })`). Default: a PodlinkError, answered as connect-failed.
   */
  refusal?(reason: ConnectRefusal, message: string, cause: unknown): Error
  readonly registry: FlowRegistry
  readonly timers: Timers
  /** What carries the flows this exit takes (for `podlink flows`). Default libp2p. */
  readonly channel?: FlowChannel
  /** A TCP flow ended: `error` is null when both directions ended cleanly (for the agent's log). */
  onFlowEnd?(flow: ExitFlow, result: { aToB: number; bToA: number; error: Error | null }): void
}

export interface FlowExitOptions {
  /** TCP: both directions silent this long resets the flow. Default 1 h (see TcpProxyOptions). */
  readonly tcpIdleTimeoutMs?: number
  /** UDP: no datagram either way this long ends the flow. Default 60 s (conntrack's UDP stream timeout is 120 s). */
  readonly udpIdleTimeoutMs?: number
}

/** An admitted flow, as the tunnel's flow handler passes it (its AcceptedFlow). */
export interface ExitFlow {
  readonly header: FlowRequest
  readonly peer: string
}

export type ExitSplice<S> = (stream: S, options: { signal: AbortSignal }) => Promise<void>

/** The proxy's half of the exit, in the shape of the tunnel's FlowExit: dial the pod, then splice the stream to it. */
export interface FlowExitService<S> {
  connect(flow: ExitFlow, options: { signal: AbortSignal }): Promise<ExitSplice<S>>
}

/** Connects to a pod per flow at most this often when the local 4-tuple was taken (EADDRNOTAVAIL). */
export const CONNECT_ATTEMPTS = 4

const causeCode = (err: unknown): string | undefined =>
  ((err as { cause?: { code?: unknown } } | null)?.cause?.code as string | undefined) ??
  ((err as { code?: unknown } | null)?.code as string | undefined)

export function createFlowExit<S>(deps: FlowExitDeps<S>, options: FlowExitOptions = {}): FlowExitService<S> {
  const refusal =
    deps.refusal ??
    ((reason: ConnectRefusal, message: string, cause: unknown) =>
      new PodlinkError(reason === 'connect-timeout' ? 'PROXY_CONNECT_TIMEOUT' : 'PROXY_CONNECT_FAILED', message, {
        cause,
      }))

  /** Track the flow; when the registry is full, let go of the pod socket and throw (the stream is then reset). */
  function openOrDrop(release: () => void, info: Parameters<FlowRegistry['open']>[0]): TrackedFlow {
    try {
      return deps.registry.open(info)
    } catch (err) {
      release()
      throw err
    }
  }

  async function connectTcp(flow: ExitFlow, signal: AbortSignal): Promise<ExitSplice<S>> {
    const { ip, port } = flow.header.dst
    const target = endpointId(flow.header.dst)
    let socket: net.Socket | undefined
    // A connection from a local port the exit chose (exit-ports.ts) fails at once with EADDRNOTAVAIL when another
    // socket of the node has that very 4-tuple: it is made again, from another port, a few times.
    for (let attempt = 1; socket === undefined; attempt++) {
      try {
        socket = await connected(deps.connectPod(ip, port, attempt), target, signal)
      } catch (err) {
        if (signal.aborted) throw refusal('connect-timeout', `Cannot connect to ${target} in time`, err)
        if (attempt < CONNECT_ATTEMPTS && causeCode(err) === 'EADDRNOTAVAIL') continue
        throw refusal('connect-failed', `Cannot connect to ${target}`, err)
      }
    }
    return async (stream) => {
      const tracked = openOrDrop(() => socket.resetAndDestroy(), {
        protocol: 'tcp',
        source: flow.header.src ?? '',
        destination: target,
        endpoint: target,
        service: flow.header.service ? flow.header.serviceKey : null,
        peer: flow.peer,
        path: 'none',
        channel: deps.channel ?? 'libp2p',
      })
      try {
        // a = the pod, b = the mesh: tx counts bytes sent towards the peer.
        const sp = splice(socketFlowStream(socket), deps.adapt(stream), {
          timers: deps.timers,
          idleTimeoutMs: options.tcpIdleTimeoutMs ?? 3_600_000,
        })
        tracked.counters = () => ({ txBytes: sp.aToB, rxBytes: sp.bToA })
        // Not `deps.onFlowEnd?.(flow, await sp.done)`: an optional call short-circuits its arguments, await included.
        const result = await sp.done
        deps.onFlowEnd?.(flow, result)
      } finally {
        tracked.close()
      }
    }
  }

  async function connectUdp(flow: ExitFlow, signal: AbortSignal): Promise<ExitSplice<S>> {
    const { createUdpSocket, framing } = deps
    const target = endpointId(flow.header.dst)
    if (createUdpSocket === undefined || framing === undefined) {
      throw refusal('connect-failed', `Cannot carry UDP to ${target} as this exit has no UDP support`, null)
    }
    const socket = createUdpSocket(flow.header.dst.ip.includes(':') ? 6 : 4)
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(signal.reason)
        signal.addEventListener('abort', onAbort, { once: true })
        socket.once('error', reject)
        socket.connect(flow.header.dst.port, flow.header.dst.ip, () => {
          signal.removeEventListener('abort', onAbort)
          socket.off('error', reject)
          resolve()
        })
      })
    } catch (err) {
      socket.close()
      throw refusal(signal.aborted ? 'connect-timeout' : 'connect-failed', `Cannot open UDP to ${target}`, err)
    }
    return async (stream) => {
      const tracked = openOrDrop(() => socket.close(), {
        protocol: 'udp',
        source: flow.header.src ?? '',
        destination: target,
        endpoint: target,
        service: flow.header.service ? flow.header.serviceKey : null,
        peer: flow.peer,
        path: 'none',
        channel: deps.channel ?? 'libp2p',
      })
      try {
        const run = udpExitSplice(deps.adapt(stream), socket, {
          framing,
          timers: deps.timers,
          idleTimeoutMs: options.udpIdleTimeoutMs ?? 60_000,
        })
        tracked.counters = () => ({ txBytes: run.txBytes, rxBytes: run.rxBytes })
        await run.done
      } finally {
        tracked.close()
      }
    }
  }

  return {
    connect: (flow, { signal }) =>
      flow.header.protocol === 'udp' ? connectUdp(flow, signal) : connectTcp(flow, signal),
  }
}
