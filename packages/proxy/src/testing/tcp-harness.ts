import { createHash } from 'node:crypto'
import net from 'node:net'
import type { ServiceEndpoint } from '@podlink/core'
import { EndpointBalancer } from '../balance/endpoint-balancer.ts'
import { FlowRegistry } from '../registry/flow-registry.ts'
import type { FlowRequest, OpenFlowStream } from '../stream/flow-stream.ts'
import { socketFlowStream } from '../stream/socket-flow-stream.ts'
import { createFlowExit, type ExitSplice, type FlowExitDeps } from '../tcp/flow-exit.ts'
import { type FlowTarget, proxyTcp, type TcpFlowOutcome, type TcpProxyOptions } from '../tcp/proxy-tcp.ts'
import { createManualTimers, type ManualTimers } from './manual-timers.ts'
import { type MemoryFlowStream, memoryFlowStreamPair } from './memory-flow-stream.ts'

/**
 * The whole TCP path on loopback, with the mesh in between swapped by `transport`:
 * app client -> capture listener -> proxyTcp -> transport -> flow exit -> "pod" server.
 * Pod addresses are 10.244.x.y; the exit's connector maps each to a loopback server (pods are not on loopback, and
 * checkExit refuses loopback anyway).
 */
/** The exit's deps but its stream adapter, which the transport supplies. */
export type ExitDeps = Omit<FlowExitDeps<unknown>, 'adapt'>

export interface Transport {
  readonly name: string
  /** Build the sender's openFlowStream for an exit that serves `exit` and only admits `admit` destinations. */
  connect(exit: ExitDeps, admit: (request: FlowRequest) => boolean): Promise<OpenFlowStream>
  /** Bytes held in the transport's buffers now (both directions, both ends). */
  buffered(): number
  close(): Promise<void>
}

export interface Lab {
  readonly timers: ManualTimers
  readonly registry: FlowRegistry
  readonly balancer: EndpointBalancer
  /** Connect an app client through the proxy to `target`; the outcome resolves when the flow is over. */
  dial(target: FlowTarget, options?: TcpProxyOptions): Promise<{ client: net.Socket; outcome: Promise<TcpFlowOutcome> }>
  /** The next connection accepted by the pod server. */
  accepted(): Promise<net.Socket>
  /** Max bytes ever seen in the proxy's own socket write buffers (sampled on every write). */
  readonly proxySocketPeak: number
  close(): Promise<void>
}

export const POD: ServiceEndpoint = { ip: '10.244.3.7', port: 80, node: 'edge2-a', class: 'mesh' }

export async function createLab(
  transport: (timers: ManualTimers) => Transport,
  options: { exitTimers?: 'manual' | 'system' } = {},
): Promise<Lab> {
  const timers = createManualTimers()
  const registry = new FlowRegistry({}, timers)
  const balancer = new EndpointBalancer({ self: 'edge1-a' }, timers)
  const t = transport(timers)
  const sockets: net.Socket[] = []
  const waiting: Array<(s: net.Socket) => void> = []
  const queue: net.Socket[] = []
  const pod = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s)
    const w = waiting.shift()
    if (w) w(s)
    else queue.push(s)
  })
  await new Promise<void>((r) => pod.listen(0, '127.0.0.1', r))
  const podPort = (pod.address() as net.AddressInfo).port
  let peak = 0
  const watch = (s: net.Socket): net.Socket => {
    sockets.push(s)
    const write = s.write.bind(s) as (c: Uint8Array) => boolean
    s.write = ((c: Uint8Array) => {
      const ok = write(c)
      peak = Math.max(peak, s.writableLength)
      return ok
    }) as typeof s.write
    return s
  }
  const exit: ExitDeps = {
    connectPod: () => watch(net.connect({ host: '127.0.0.1', port: podPort })),
    registry,
    timers: options.exitTimers === 'system' ? createManualTimers() : timers,
  }
  const openFlowStream = await t.connect(exit, (r) => r.dst.ip === POD.ip || r.dst.ip.startsWith('10.244.3.'))
  // Captured sockets are matched to their client by port: concurrent dials are accepted in any order.
  const arrived = new Map<number, net.Socket>()
  const expecting = new Map<number, (s: net.Socket) => void>()
  const capture = net.createServer((s) => {
    sockets.push(s)
    const port = s.remotePort ?? 0
    const want = expecting.get(port)
    if (want) want(s)
    else arrived.set(port, s)
  })
  await new Promise<void>((r) => capture.listen(0, '127.0.0.1', r))
  const capturePort = (capture.address() as net.AddressInfo).port
  return {
    timers,
    registry,
    balancer,
    get proxySocketPeak() {
      return peak
    },
    async dial(target, proxyOptions = {}) {
      const client = net.connect({ host: '127.0.0.1', port: capturePort, allowHalfOpen: true })
      sockets.push(client)
      await new Promise((r) => client.once('connect', r))
      const port = client.localPort ?? 0
      const captured = watch(
        arrived.get(port) ??
          (await new Promise<net.Socket>((r) => {
            expecting.set(port, r)
          })),
      )
      arrived.delete(port)
      expecting.delete(port)
      const outcome = proxyTcp(
        socketFlowStream(captured),
        {
          source: { ip: '10.244.1.5', port: client.localPort ?? 1 },
          destination: { ip: target.kind === 'pod' ? target.endpoint.ip : target.entry.clusterIP, port: 80 },
          target,
        },
        {
          balancer,
          registry,
          timers,
          peerOf: (node) => (node === 'nowhere' ? null : `peer-of-${node}`),
          openFlowStream,
          connectDirect: (ip, port) =>
            watch(net.connect({ host: ip === POD.ip ? '127.0.0.1' : ip, port: ip === POD.ip ? podPort : port })),
        },
        proxyOptions,
      )
      return { client, outcome }
    },
    accepted: () => {
      const s = queue.shift()
      return s ? Promise.resolve(s) : new Promise((r) => waiting.push(r))
    },
    async close() {
      for (const s of sockets) s.destroy()
      await t.close()
      await new Promise((r) => pod.close(r))
      await new Promise((r) => capture.close(r))
    },
  }
}

/** The in-memory mesh: each flow is a memory stream pair; the "flow handler" answers from the exit's connect. */
export function memoryTransport(window = 64 * 1024): (timers: ManualTimers) => Transport {
  return () => {
    const pairs: Array<ReturnType<typeof memoryFlowStreamPair>> = []
    return {
      name: 'memory',
      async connect(exitDeps, admit) {
        const exit = createFlowExit<MemoryFlowStream>({ ...exitDeps, adapt: (s) => s })
        return async (peer, request, { signal }) => {
          const pair = memoryFlowStreamPair({ window })
          pairs.push(pair)
          const [sender, exitEnd] = pair
          const answer = (async () => {
            if (!admit(request)) return { ok: false as const, reason: 'not-my-pod' }
            let spliceFn: ExitSplice<MemoryFlowStream>
            try {
              spliceFn = await exit.connect({ header: request, peer: 'sender' }, { signal })
            } catch {
              return { ok: false as const, reason: 'connect-failed' }
            }
            void spliceFn(exitEnd, { signal })
            return { ok: true as const }
          })()
          void peer
          return { stream: sender, answer }
        }
      },
      buffered: () => pairs.reduce((n, [a, b]) => n + a.unread + b.unread, 0),
      async close() {},
    }
  }
}

/** Send `total` bytes of a seeded pattern in `chunk`-sized writes honouring backpressure; resolves with its sha256. */
export async function sendPattern(socket: net.Socket, total: number, chunk = 64 * 1024, end = true): Promise<string> {
  const hash = createHash('sha256')
  let sent = 0
  let seed = 1
  while (sent < total) {
    const n = Math.min(chunk, total - sent)
    const buf = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i += 4) {
      seed = (seed * 1664525 + 1013904223) >>> 0
      buf.writeUInt32LE(seed, i < n - 3 ? i : n - 4)
    }
    hash.update(buf)
    sent += n
    if (!socket.write(buf)) await new Promise((r) => socket.once('drain', r))
  }
  if (end) socket.end()
  return hash.digest('hex')
}

/** Read until end; resolves with byte count and sha256. Rejects on a reset. */
export function receiveAll(socket: net.Socket): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    let bytes = 0
    socket.on('data', (c: Buffer) => {
      bytes += c.length
      hash.update(c)
    })
    socket.once('end', () => resolve({ bytes, sha256: hash.digest('hex') }))
    socket.once('error', reject)
  })
}

/** Resolves with the error code the socket closes with (e.g. ECONNRESET), or null for a clean close. */
export function closeCode(socket: net.Socket): Promise<string | null> {
  return new Promise((resolve) => {
    let code: string | null = null
    socket.on('error', (e: NodeJS.ErrnoException) => {
      code = e.code ?? 'ERROR'
    })
    socket.resume()
    socket.once('close', () => resolve(code))
  })
}

/**
 * One short exchange through the proxy: the client sends 'first bytes' (11) and half-closes, the server reads them
 * all and answers 'ok' (2). Resolves with what each side received and the flow's outcome.
 */
export async function shortExchange(
  lab: Lab,
  target: FlowTarget,
): Promise<{ serverGot: number; clientGot: number; outcome: TcpFlowOutcome }> {
  const { client, outcome } = await lab.dial(target)
  client.end('first bytes')
  const server = await lab.accepted()
  const serverGot = (await receiveAll(server)).bytes
  server.end('ok')
  const clientGot = (await receiveAll(client)).bytes
  return { serverGot, clientGot, outcome: await outcome }
}
