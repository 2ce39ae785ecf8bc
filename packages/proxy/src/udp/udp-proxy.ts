import type dgram from 'node:dgram'
import { PodlinkError } from '@podlink/core'
import type { EndpointBalancer } from '../balance/endpoint-balancer.ts'
import { endpointId } from '../balance/pick-endpoint.ts'
import type { FlowRegistry, TrackedFlow } from '../registry/flow-registry.ts'
import type { FlowAddress, FlowStream, OpenFlowStream, Timers } from '../stream/flow-stream.ts'
import type { FlowTarget } from '../tcp/proxy-tcp.ts'
import { type DatagramFraming, framedSender } from './udp-exit.ts'

/** A datagram as the dataplane's UDP capture hands it over (its CapturedDatagram). */
export interface CapturedDatagramLike {
  readonly data: Uint8Array
  readonly src: { readonly address: string; readonly port: number }
  readonly originalDst: { readonly address: string; readonly port: number }
  /** Send to `src` from `originalDst`. */
  reply(buf: Uint8Array): void
}

export interface UdpSenderDeps {
  readonly balancer: EndpointBalancer
  readonly registry: FlowRegistry
  readonly timers: Timers
  readonly framing: DatagramFraming
  /** Where datagrams to `dst` go; null drops them (no route). Called once per new flow. */
  resolve(dst: FlowAddress): FlowTarget | null
  peerOf(node: string): string | null
  readonly openFlowStream: OpenFlowStream
  /** A UDP socket the capture rules skip (the dataplane's createMarkedUdpSocket), for local and same-LAN endpoints. */
  createDirectSocket(family: 4 | 6): dgram.Socket
}

export interface UdpProxyOptions {
  /** A flow with no datagram either way this long ends. Default 60 s. */
  readonly idleTimeoutMs?: number
  /** Flows one source IP may hold (a scan of ports must not take every slot). Default 256. */
  readonly maxFlowsPerSource?: number
  /** Flows in total. Default 4096. */
  readonly maxFlows?: number
  /** Datagrams held per flow while its stream opens; more are dropped. Default 64. */
  readonly maxPending?: number
  /** Waiting for the exit's answer, per attempt. Default 10 s. */
  readonly connectTimeoutMs?: number
}

export interface UdpProxyCounters {
  readonly flows: number
  /** Datagrams dropped: over a bound, no route, no endpoint, a full stream. */
  readonly dropped: number
}

export interface UdpProxy {
  handle(datagram: CapturedDatagramLike): void
  counters(): UdpProxyCounters
  /** End every flow. */
  close(): void
}

interface UdpFlow {
  readonly key: string
  readonly srcIp: string
  readonly reply: (buf: Uint8Array) => void
  readonly tracked: TrackedFlow
  pending: Uint8Array[] | null
  send: ((payload: Uint8Array) => void) | null
  /** While an attempt waits for its answer: datagrams go out at once and are also kept for a replay. */
  early: ((payload: Uint8Array) => void) | null
  end: () => void
  last: number
  timer: unknown
  tx: number
  rx: number
}

/**
 * UDP over the mesh: one flow per (source, original destination), datagram boundaries kept by the tunnel's framing,
 * replies handed to the capture's `reply`. Bounded per source and in total; idle flows end after `idleTimeoutMs`.
 */
export function createUdpProxy(deps: UdpSenderDeps, options: UdpProxyOptions = {}): UdpProxy {
  const idleMs = options.idleTimeoutMs ?? 60_000
  const perSource = options.maxFlowsPerSource ?? 256
  const maxFlows = options.maxFlows ?? 4096
  const maxPending = options.maxPending ?? 64
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000
  const flows = new Map<string, UdpFlow>()
  const bySource = new Map<string, number>()
  let dropped = 0

  const remove = (flow: UdpFlow): void => {
    if (flows.get(flow.key) !== flow) return
    flows.delete(flow.key)
    const n = (bySource.get(flow.srcIp) ?? 1) - 1
    if (n === 0) bySource.delete(flow.srcIp)
    else bySource.set(flow.srcIp, n)
    if (flow.timer !== null) deps.timers.clearTimeout(flow.timer)
    flow.tracked.close()
    flow.end()
  }

  const arm = (flow: UdpFlow, ms: number): void => {
    flow.timer = deps.timers.setTimeout(() => {
      const quiet = deps.timers.now() - flow.last
      if (quiet >= idleMs) remove(flow)
      else arm(flow, idleMs - quiet)
    }, ms)
  }

  const received = (flow: UdpFlow, datagram: Uint8Array): void => {
    flow.last = deps.timers.now()
    flow.rx += datagram.length
    flow.reply(datagram)
  }

  /** Try endpoints until one answers; datagrams sent meanwhile are kept and replayed to the next. */
  const connect = async (flow: UdpFlow, target: FlowTarget, clientIp: string): Promise<void> => {
    const failed = new Set<string>()
    for (let attempt = 0; attempt < 3 && flows.get(flow.key) === flow; attempt++) {
      const pick =
        target.kind === 'pod'
          ? failed.has(endpointId(target.endpoint))
            ? null
            : { endpoint: target.endpoint, tier: target.endpoint.class }
          : deps.balancer.pick(target.entry, clientIp, failed)
      if (pick === null) break
      const ep = pick.endpoint
      const id = endpointId(ep)
      flow.tracked.info.endpoint = id
      if (pick.tier !== 'mesh') {
        const socket = deps.createDirectSocket(ep.ip.includes(':') ? 6 : 4)
        socket.on('message', (msg) => received(flow, msg))
        // ICMP port unreachable (ECONNREFUSED) is no reason to end a UDP flow: the pod may bind later.
        socket.on('error', () => {})
        socket.connect(ep.port, ep.ip)
        flow.tracked.info.path = 'lan'
        const ok = await new Promise<boolean>((r) => {
          socket.once('connect', () => r(true))
          socket.once('error', () => r(false))
        })
        if (!ok) {
          socket.close()
          failed.add(id)
          continue
        }
        flow.tracked.info.channel = null
        flow.end = () => socket.close()
        flow.send = (payload) => socket.send(payload)
        for (const p of flow.pending ?? []) socket.send(p)
        flow.pending = null
        return
      }
      const peer = deps.peerOf(ep.node ?? '')
      if (peer === null) {
        failed.add(id)
        continue
      }
      flow.tracked.info.peer = peer
      let stream: FlowStream | null = null
      const ac = new AbortController()
      const t = deps.timers.setTimeout(
        () => ac.abort(new PodlinkError('PROXY_CONNECT_TIMEOUT', `Cannot open UDP to ${id} in time`)),
        connectTimeoutMs,
      )
      try {
        const opened = await deps.openFlowStream(
          peer,
          {
            protocol: 'udp',
            dst: { ip: ep.ip, port: ep.port },
            src: clientIp,
            service: target.kind === 'service',
            serviceKey:
              target.kind === 'service' ? `${target.entry.service}:${target.entry.portName || target.entry.port}` : '',
          },
          { signal: ac.signal },
        )
        const st = opened.stream
        stream = st
        flow.tracked.info.channel = opened.channel ?? 'libp2p'
        for (const p of flow.pending ?? []) st.send(deps.framing.encode(p))
        flow.early = (p) => st.send(deps.framing.encode(p))
        const answer = await opened.answer
        if (!answer.ok)
          throw new PodlinkError('PROXY_REFUSED', `Cannot carry UDP to ${id} as the exit refused: ${answer.reason}`)
      } catch {
        stream?.abort(new PodlinkError('PROXY_REFUSED', `Cannot carry UDP to ${id}`))
        failed.add(id)
        deps.balancer.reportFailure(ep)
        continue
      } finally {
        flow.early = null
        deps.timers.clearTimeout(t)
      }
      const s = stream
      const decoder = deps.framing.createDecoder()
      s.start({
        onData: (chunk) => {
          for (const d of decoder.push(chunk)) received(flow, d)
        },
        onEnd: () => remove(flow),
        onDrain() {},
        onClose: () => remove(flow),
      })
      flow.end = () => s.closeWrite()
      const send = framedSender(s, deps.framing)
      flow.send = (payload) => {
        if (!send(payload)) dropped++
      }
      flow.pending = null
      if (flows.get(flow.key) !== flow) s.closeWrite()
      return
    }
    dropped += flow.pending?.length ?? 0
    remove(flow)
  }

  return {
    handle(d) {
      const key = `${d.src.address}|${d.src.port}|${d.originalDst.address}|${d.originalDst.port}`
      let flow = flows.get(key)
      if (flow === undefined) {
        const target = deps.resolve({ ip: d.originalDst.address, port: d.originalDst.port })
        const fromSource = bySource.get(d.src.address) ?? 0
        if (target === null || fromSource >= perSource || flows.size >= maxFlows) {
          dropped++
          return
        }
        let tracked: TrackedFlow
        try {
          tracked = deps.registry.open({
            protocol: 'udp',
            source: endpointId({ ip: d.src.address, port: d.src.port }),
            destination: endpointId({ ip: d.originalDst.address, port: d.originalDst.port }),
            endpoint: '',
            service:
              target.kind === 'service'
                ? `${target.entry.service}:${target.entry.portName || target.entry.port}`
                : null,
            peer: '',
            path: 'none',
          })
        } catch {
          // The registry is full (node-wide flow bound): the datagram is dropped and counted.
          dropped++
          return
        }
        const f: UdpFlow = {
          key,
          srcIp: d.src.address,
          reply: d.reply,
          tracked,
          pending: [],
          send: null,
          early: null,
          end: () => {},
          last: deps.timers.now(),
          timer: null,
          tx: 0,
          rx: 0,
        }
        tracked.counters = () => ({ txBytes: f.tx, rxBytes: f.rx })
        flow = f
        flows.set(key, f)
        bySource.set(d.src.address, fromSource + 1)
        arm(f, idleMs)
        void connect(f, target, d.src.address)
      }
      flow.last = deps.timers.now()
      flow.tx += d.data.length
      if (flow.send !== null) flow.send(d.data)
      else if (flow.pending !== null && flow.pending.length < maxPending) {
        flow.pending.push(d.data)
        flow.early?.(d.data)
      } else dropped++
    },
    counters: () => ({ flows: flows.size, dropped }),
    close() {
      for (const f of [...flows.values()]) remove(f)
    },
  }
}
