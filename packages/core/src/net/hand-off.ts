import type net from 'node:net'

/** One side of a flow taken out of Node for the native relay (the proxy's FlowStream.handOff). */
export type HandOff = PlainHandOff | SealedHandOff

/** A plain TCP socket's side (a captured client, a pod). */
export interface PlainHandOff {
  readonly kind: 'plain'
  /** A dup of the socket's fd, the relay's to close. */
  readonly fd: number
  /** Bytes Node read from the socket that were not passed on yet. */
  readonly pending: Buffer
  /** The relay is done: destroy the socket (its close is the last one of the fd). */
  release(): void
  /** The relay did not take it: the socket reads as before. */
  undo(): void
  /** Calls `cb` when the socket is closed by anyone but `release` (a registry dropping the flow): abort then. */
  onLost(cb: () => void): void
}

/** A sealed fast socket's side (the tunnel's SealedSocket.sealedHandOff): the PlainHandOff parts, and its records'. */
export interface SealedHandOff extends Omit<PlainHandOff, 'kind' | 'pending'> {
  readonly kind: 'sealed'
  /** Seal key and IV, then open key and IV (16 + 12 bytes each). */
  readonly keys: Buffer
  /** Records sent and received so far. */
  readonly sealSeq: bigint
  readonly openSeq: bigint
  /** Opened plaintext nobody read yet. */
  readonly pending: Buffer
  /** Received bytes short of a whole record. */
  readonly partial: Buffer
}

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
