import type dgram from 'node:dgram'
import type { FlowStream, Timers } from '../stream/flow-stream.ts'

/** The tunnel's datagram framing (u16 length + payload), injected: `{ encode: encodeDatagram, createDecoder: createDatagramDecoder }`. */
export interface DatagramFraming {
  encode(payload: Uint8Array): Uint8Array
  createDecoder(): { push(chunk: Uint8Array): Uint8Array[]; readonly pendingBytes: number }
}

/**
 * Bytes a UDP flow may queue on a stream that asked to drain before datagrams are dropped: enough for a burst of
 * replies (a DNS answer train, a 60 KB datagram) without letting a flood grow the queue without bound.
 */
export const UDP_STREAM_OVERDRAFT_BYTES = 256 * 1024

/** Frames datagrams onto `stream`; drops (returns false) once the stream is full past the overdraft. */
export function framedSender(stream: FlowStream, framing: DatagramFraming): (payload: Uint8Array) => boolean {
  let overdraft = 0
  return (payload) => {
    if (!stream.needsDrain) overdraft = 0
    else if (overdraft + payload.length > UDP_STREAM_OVERDRAFT_BYTES) return false
    else overdraft += payload.length
    stream.send(framing.encode(payload))
    return true
  }
}

export interface UdpExitRun {
  readonly txBytes: number
  readonly rxBytes: number
  /** Datagrams from the pod dropped because the stream was full (UDP may drop; buffering would not be bounded). */
  readonly dropped: number
  readonly done: Promise<void>
}

/**
 * One UDP flow at the exit: datagrams off the stream go to the pod through `socket` (connected to it), and the
 * pod's replies go back framed. Ends when the sender half-closes, the stream closes, or nothing moved for
 * `idleTimeoutMs`; the socket is closed then.
 */
export function udpExitSplice(
  stream: FlowStream,
  socket: dgram.Socket,
  options: { readonly framing: DatagramFraming; readonly timers: Timers; readonly idleTimeoutMs: number },
): UdpExitRun {
  const { timers, idleTimeoutMs } = options
  const decoder = options.framing.createDecoder()
  let txBytes = 0
  let rxBytes = 0
  let dropped = 0
  let last = timers.now()
  let finished = false
  let timer: unknown = null
  let resolve!: () => void
  const done = new Promise<void>((r) => {
    resolve = r
  })
  const finish = (error: Error | undefined): void => {
    if (finished) return
    finished = true
    if (timer !== null) timers.clearTimeout(timer)
    if (error !== undefined) stream.abort(error)
    else stream.closeWrite()
    socket.close()
    resolve()
  }
  const arm = (ms: number): void => {
    timer = timers.setTimeout(() => {
      const quiet = timers.now() - last
      if (quiet >= idleTimeoutMs) finish(undefined)
      else arm(idleTimeoutMs - quiet)
    }, ms)
  }
  if (idleTimeoutMs > 0) arm(idleTimeoutMs)

  const send = framedSender(stream, options.framing)
  socket.on('message', (msg) => {
    if (finished) return
    last = timers.now()
    if (send(msg)) txBytes += msg.length
    else dropped++
  })
  // ICMP port unreachable surfaces as ECONNREFUSED on a connected UDP socket: the pod may listen later, keep going.
  socket.on('error', () => {})
  stream.start({
    onData(chunk) {
      if (finished) return
      last = timers.now()
      for (const datagram of decoder.push(chunk)) {
        rxBytes += datagram.length
        socket.send(datagram)
      }
    },
    onEnd: () => finish(undefined),
    onDrain() {},
    onClose: (error) => finish(error),
  })
  return {
    get txBytes() {
      return txBytes
    },
    get rxBytes() {
      return rxBytes
    },
    get dropped() {
      return dropped
    },
    done,
  }
}
