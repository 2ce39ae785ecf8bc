import type net from 'node:net'

/** Read size of a lent buffer: what libuv asks for per read on a TCP socket. */
export const LENT_READ_SIZE = 64 * 1024

interface OnreadSlots {
  readonly buffer: symbol
  readonly callback: symbol
  readonly generator: symbol
}

/** Node's own slots for `onread` on a net.Socket (set to null by its constructor): looked up once by description. */
let slots: OnreadSlots | null | undefined

function onreadSlots(socket: net.Socket): OnreadSlots | null {
  if (slots !== undefined) return slots
  const own = Object.getOwnPropertySymbols(socket)
  const find = (name: string): symbol | undefined => own.find((s) => s.description === name)
  const buffer = find('kBuffer')
  const callback = find('kBufferCb')
  const generator = find('kBufferGen')
  slots = buffer && callback && generator ? { buffer, callback, generator } : null
  return slots
}

/**
 * Switches a connected socket (TCP, or TLS over TCP) to Node's `onread` mode after the fact: libuv (or, for TLS,
 * the decrypted output) reads into `buffer` and `onChunk` gets a view of it, instead of a fresh ArrayBuffer per read.
 * Those allocations are what drives V8 into a full mark-compact every ~100 ms under bulk traffic (it counts
 * array-buffer memory towards its limits), and with the agent's heap each one costs ~10-40 ms of CPU.
 *
 * `net.connect({ onread })` does this for client sockets; accepted and TLS server sockets have no public switch,
 * so this sets the same private slots the constructor would (found by their symbol descriptions). Returns false,
 * changing nothing, when the socket has no such slots or handle (another Node, a pipe, a JS stream): the caller
 * then keeps reading with 'data' events.
 *
 * While switched: `pause()` stops reading at once (readStop), 'data' is no longer emitted for new reads (chunks
 * already buffered in the Readable still are, on resume, before any new read), 'end' and 'close' are as before.
 * After each `onChunk` returns, the buffer is read into again only if `mayReuse()`; otherwise a new one is taken.
 */
export function lendReads(
  socket: net.Socket,
  onChunk: (chunk: Buffer) => void,
  mayReuse: () => boolean,
  size = LENT_READ_SIZE,
): boolean {
  // The operator's switch back to Node's own reads, should a Node release change what this relies on.
  if (process.env['PODLINK_LEND_READS'] === '0') return false
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (b: Uint8Array) => void } })._handle
  if (handle === undefined || handle === null || typeof handle.useUserBuffer !== 'function') return false
  if (socket.connecting || socket.destroyed) return false
  const s = onreadSlots(socket)
  if (s === null) return false
  const slotsOf = socket as unknown as Record<symbol, unknown>
  if (slotsOf[s.buffer] !== null && slotsOf[s.buffer] !== undefined) return false
  let buffer = Buffer.allocUnsafeSlow(size)
  slotsOf[s.buffer] = buffer
  slotsOf[s.callback] = (nread: number, buf: Buffer): undefined => {
    onChunk(buf.subarray(0, nread))
    return undefined
  }
  slotsOf[s.generator] = (): Buffer => {
    if (!mayReuse()) buffer = Buffer.allocUnsafeSlow(size)
    return buffer
  }
  handle.useUserBuffer(buffer)
  return true
}
