import type dgram from 'node:dgram'
import type { FlowStream, Timers } from '../stream/flow-stream.ts'

/** The tunnel's datagram framing (u16 length + payload), injected: `{ encode: encodeDatagram, createDecoder: createDatagramDecoder }`. */
export interface DatagramFraming {
  encode(payload: Uint8Array): Uint8Array
  createDecoder(): { push(chunk: Uint8Array): Uint8Array[]; readonly pendingBytes: number }
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

  socket.on('message', (msg) => {
    if (finished) return
    last = timers.now()
    if (stream.needsDrain) {
      dropped++
      return
    }
    txBytes += msg.length
    stream.send(options.framing.encode(msg))
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
