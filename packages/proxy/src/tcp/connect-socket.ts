import type net from 'node:net'
import { PodlinkError } from '@podlink/core'

/**
 * Wait for a connecting socket to connect. Rejects with PROXY_CONNECT_FAILED (the socket's error as cause) or,
 * when the signal fires first, with the signal's reason; the socket is destroyed on either.
 */
export function connected(socket: net.Socket, target: string, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (!socket.connecting && !socket.destroyed && socket.remoteAddress !== undefined) {
      resolve(socket)
      return
    }
    const cleanup = (): void => {
      socket.off('connect', onConnect)
      socket.off('error', onError)
      signal.removeEventListener('abort', onAbort)
    }
    const onConnect = (): void => {
      cleanup()
      resolve(socket)
    }
    const onError = (cause: Error): void => {
      cleanup()
      socket.destroy()
      reject(new PodlinkError('PROXY_CONNECT_FAILED', `Cannot connect to ${target} as ${cause.message}`, { cause }))
    }
    const onAbort = (): void => {
      cleanup()
      socket.destroy()
      reject(signal.reason)
    }
    if (signal.aborted) {
      onAbort()
      return
    }
    socket.once('connect', onConnect)
    socket.once('error', onError)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** An AbortController that fires after `ms` on the injected timers, with a typed timeout reason. */
export function timeoutController(
  timers: { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(h: unknown): void },
  ms: number,
  what: string,
): { controller: AbortController; clear(): void } {
  const controller = new AbortController()
  const handle = timers.setTimeout(() => {
    controller.abort(new PodlinkError('PROXY_CONNECT_TIMEOUT', `Cannot connect to ${what} as ${ms} ms passed`))
  }, ms)
  return { controller, clear: () => timers.clearTimeout(handle) }
}
