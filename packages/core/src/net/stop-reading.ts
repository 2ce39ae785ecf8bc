import type net from 'node:net'

interface TcpHandle {
  reading?: boolean
  readStop?: () => number
}

const noRead = (): void => {}

/**
 * Stops `socket` reading from the kernel for good and returns what Node had read and nobody consumed. Its `_read` is
 * made a no-op first: a `resume()` still pending on the next tick (the proxy resumes the client right before the
 * splice), or draining the buffer below its mark, would otherwise call `_read`, which starts the handle reading again
 * and takes bytes from under the relay.
 */
export function stopAndDrain(socket: net.Socket): Buffer[] {
  socket.pause()
  ;(socket as unknown as { _read: () => void })._read = noRead
  const handle = (socket as unknown as { _handle?: TcpHandle })._handle
  handle?.readStop?.()
  if (handle !== undefined) handle.reading = false
  const pending: Buffer[] = []
  // (read() also emits each chunk as 'data' to whoever listens.)
  for (let c = socket.read() as Buffer | null; c !== null; c = socket.read() as Buffer | null) pending.push(c)
  return pending
}

/** Undoes stopAndDrain's `_read` (the relay did not take the socket): reading restarts with the next resume. */
export function resumeReads(socket: net.Socket): void {
  delete (socket as unknown as { _read?: () => void })._read
  // The no-op left Readable waiting for a push that never came; without this it never calls _read again.
  const state = (socket as unknown as { _readableState?: { reading: boolean } })._readableState
  if (state !== undefined) state.reading = false
}
