import { Socket } from 'node:net'
import { PodlinkError } from '@podlink/core'
import { reuseBoundFd, rstClose } from './reuse-socket.ts'

export interface PunchConnectOptions {
  /** The local address and port to connect from: the libp2p listening port (must listen with reusePort). */
  readonly localHost?: string
  readonly localPort: number
  /** The peer's address as its NAT maps it (observed by the rendezvous). */
  readonly remoteHost: string
  readonly remotePort: number
  /** Give up after this; SYNs are retransmitted at 1 s and 3 s, so ~3 s covers one RTT plus retries. */
  readonly deadlineMs?: number
  /** Pause before a new attempt after ECONNREFUSED/ECONNRESET (a NAT that RSTs unsolicited SYNs). */
  readonly retryMs?: number
  /** Pause after EADDRNOTAVAIL/EADDRINUSE: the 4-tuple is still held by an old socket. */
  readonly busyBackoffMs?: number
}

/**
 * TCP simultaneous open from the listening port (research/tcp-punch.md §8 steps 4-6): connect to the peer's mapped
 * address and keep the attempt pending; on a fast failure open a new socket and try again until the deadline. The
 * first socket to emit 'connect' wins; the others are RST-closed. Never "punch then accept": that fails with
 * conntrack. Rejects with PodlinkError PUNCH_TIMEOUT at the deadline, PUNCH_ABORTED on the signal, and
 * PUNCH_SOCKET when the local port cannot be bound.
 */
export function punchConnect(options: PunchConnectOptions, signal?: AbortSignal): Promise<Socket> {
  const localHost = options.localHost ?? (options.remoteHost.includes(':') ? '::' : '0.0.0.0')
  const deadlineMs = options.deadlineMs ?? 3_000
  const retryMs = options.retryMs ?? 25
  const busyBackoffMs = options.busyBackoffMs ?? 200
  const target = `${options.remoteHost}:${options.remotePort}`
  return new Promise<Socket>((resolve, reject) => {
    const pending = new Set<Socket>()
    let done = false
    let attempts = 0
    let lastError = 'no answer'
    let retryTimer: NodeJS.Timeout | undefined
    const finish = (err: Error | null, winner?: Socket): void => {
      if (done) return
      done = true
      clearTimeout(deadline)
      clearTimeout(retryTimer)
      signal?.removeEventListener('abort', onAbort)
      for (const s of pending) if (s !== winner) rstClose(s)
      pending.clear()
      if (winner !== undefined) resolve(winner)
      else reject(err)
    }
    const attempt = (): void => {
      if (done) return
      attempts++
      let fd: number
      try {
        fd = reuseBoundFd(localHost, options.localPort)
      } catch (err) {
        finish(err as Error)
        return
      }
      const socket = new Socket({ fd, readable: true, writable: true })
      pending.add(socket)
      const onError = (err: NodeJS.ErrnoException): void => {
        pending.delete(socket)
        socket.destroy()
        lastError = err.code ?? err.message
        const busy = err.code === 'EADDRNOTAVAIL' || err.code === 'EADDRINUSE'
        const fast = err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET'
        if (!busy && !fast) {
          finish(
            new PodlinkError('PUNCH_FAILED', `Cannot punch to ${target} as connect failed with ${lastError}`, {
              cause: err,
            }),
          )
          return
        }
        clearTimeout(retryTimer)
        retryTimer = setTimeout(attempt, busy ? busyBackoffMs : retryMs)
      }
      socket.once('error', onError)
      socket.once('connect', () => {
        socket.off('error', onError)
        // Until the caller wraps the socket (same tick in upgradePunchedSocket), an error must not crash the
        // process: keep it, the wrapper sees the socket destroyed and fails the upgrade.
        socket.once('error', (err) => {
          socket.destroy(err)
        })
        finish(null, socket)
      })
      // Same tick as the Socket construction: see reuseBoundFd.
      socket.connect({ host: options.remoteHost, port: options.remotePort })
    }
    const deadline = setTimeout(() => {
      finish(
        new PodlinkError(
          'PUNCH_TIMEOUT',
          `Cannot punch to ${target} as no attempt connected within ${deadlineMs} ms (${attempts} attempts, last: ${lastError})`,
        ),
      )
    }, deadlineMs)
    const onAbort = (): void => {
      finish(
        new PodlinkError('PUNCH_ABORTED', `Cannot punch to ${target} as it was aborted`, { cause: signal?.reason }),
      )
    }
    if (signal?.aborted === true) {
      onAbort()
      return
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    attempt()
  })
}
