import { Socket } from 'node:net'
import { networkInterfaces } from 'node:os'
import { PodlinkError } from '@podlink/core'
import { reuseBoundFd, rstClose } from '../punch/reuse-socket.ts'

export type NatKind = 'none' | 'cone' | 'symmetric' | 'unknown'

/** This agent's mesh port as the internet sees it, learned from relay observe servers. */
export interface NatMapping {
  readonly kind: NatKind
  /** The mapped address a punch must target (the first observation); null when nothing answered. */
  readonly host: string | null
  readonly port: number | null
  /** Every observation, `server -> ip:port`, for the status reason. */
  readonly seen: readonly string[]
  readonly reason: string | null
}

export interface ObserveTarget {
  readonly host: string
  readonly port: number
}

/** One observation: connect FROM localPort (SO_REUSEPORT, like a punch) and read `<ip> <port>`. */
export function observeOnce(
  localPort: number,
  target: ObserveTarget,
  signal: AbortSignal,
): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    let fd: number
    try {
      fd = reuseBoundFd('0.0.0.0', localPort)
    } catch (err) {
      reject(err)
      return
    }
    const socket = new Socket({ fd, readable: true, writable: true })
    let buf = ''
    const fail = (why: string): void => {
      cleanup()
      reject(
        new PodlinkError('OBSERVE_FAILED', `Cannot observe our mapping via ${target.host}:${target.port} as ${why}`),
      )
    }
    const onAbort = (): void => fail('it was aborted')
    const cleanup = (): void => {
      signal.removeEventListener('abort', onAbort)
      rstClose(socket)
    }
    socket.setNoDelay(true)
    socket.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message))
    socket.on('data', (d: Buffer) => {
      buf += d.toString('utf8')
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      const [host = '', portText = ''] = buf.slice(0, nl).trim().split(' ')
      cleanup()
      const port = Number(portText)
      if (host === '' || !Number.isInteger(port)) reject(new PodlinkError('OBSERVE_FAILED', `Cannot parse ${buf}`))
      else resolve({ host: host.replace(/^::ffff:/, ''), port })
    })
    socket.on('end', () => fail('the server closed without an answer'))
    if (signal.aborted) {
      onAbort()
      return
    }
    signal.addEventListener('abort', onAbort, { once: true })
    // Same tick as the Socket construction (see reuseBoundFd).
    socket.connect({ host: target.host, port: target.port })
  })
}

function localAddresses(): Set<string> {
  const out = new Set<string>()
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) out.add(i.address)
  return out
}

/**
 * Observe the mapping of `localPort` through two observe targets (two ports of one relay, or two relays) one after
 * the other. Same ip:port both times: endpoint-independent mapping (`cone`, punchable); different: `symmetric`
 * (research/tcp-punch.md §4: MASQUERADE --random-fully picks a new port per destination, punching cannot work);
 * the observed ip is one of ours: `none` (no NAT). One answer only: `cone` assumed, `unknown` when none answered.
 */
export async function observeMapping(
  localPort: number,
  targets: readonly ObserveTarget[],
  signal: AbortSignal,
): Promise<NatMapping> {
  const seen: string[] = []
  const got: Array<{ host: string; port: number }> = []
  const errors: string[] = []
  for (const target of targets.slice(0, 2)) {
    try {
      const o = await observeOnce(localPort, target, AbortSignal.any([signal, AbortSignal.timeout(3_000)]))
      got.push(o)
      seen.push(`${target.host}:${target.port} -> ${o.host}:${o.port}`)
    } catch (err) {
      errors.push(String((err as Error).message))
    }
  }
  const first = got[0]
  if (first === undefined)
    return { kind: 'unknown', host: null, port: null, seen, reason: `no observe server answered: ${errors.join('; ')}` }
  if (localAddresses().has(first.host) && first.port === localPort)
    return { kind: 'none', host: first.host, port: first.port, seen, reason: null }
  const differs = got.some((o) => o.host !== first.host || o.port !== first.port)
  if (differs)
    return {
      kind: 'symmetric',
      host: first.host,
      port: first.port,
      seen,
      reason: `symmetric NAT: the mesh port maps differently per destination (${seen.join(', ')})`,
    }
  return {
    kind: 'cone',
    host: first.host,
    port: first.port,
    seen,
    reason: got.length < 2 ? 'one observation only' : null,
  }
}
