import type { FlowChannel, HandOff, L4Protocol } from '@podlink/core'

/**
 * What the proxy needs from one byte stream: a captured client socket, a socket to a pod, or a flow stream on the
 * mesh. The shape follows libp2p v3's MessageStream (send/drain, pause/resume, half-close, abort) so adapters stay
 * thin. Reading is push-based with pause/resume on purpose: libp2p's async iterator feeds an unbounded queue, so a
 * slow reader could not slow the writer through it.
 */
export interface FlowStream {
  /** Queue bytes for the remote. False: stop sending until `onDrain` (bytes are still taken; the caller bounds). */
  send(chunk: Uint8Array): boolean
  /** True while a previous `send` returned false and no drain followed. */
  readonly needsDrain: boolean
  /** Stop delivering `onData` (the transport then stops the remote through its own flow control). */
  pause(): void
  resume(): void
  /** Half-close: no more sends; the remote sees end of stream after every queued byte. Never throws. */
  closeWrite(): void
  /** Reset both ways (TCP RST, yamux RST), discarding queued bytes. Idempotent, never throws. */
  abort(err: Error): void
  /**
   * Attach handlers. Data starts flowing (what arrived before is delivered first). May be called again to hand the
   * stream over: later events go to the latest handlers only. A stream already ended or closed reports it
   * (asynchronously) to the handlers given.
   */
  start(handlers: FlowStreamHandlers): void
  /**
   * Optional (sinks): true while bytes given to `send` may still be referenced by the stream (queued, not yet copied
   * to the kernel). False means every chunk sent so far may be overwritten by its owner.
   */
  readonly holdsSent?: boolean
  /**
   * Optional (sources): read into one buffer of the stream's own and deliver `onData` chunks in it, reusing it for
   * the next read only when `mayReuse()` (asked after each `onData` returned) is true; otherwise a fresh buffer is
   * taken. Saves an allocation per read, which is what keeps V8's garbage collector busy under bulk traffic.
   */
  lendReads?(mayReuse: () => boolean): void
  /**
   * Optional (TCP sockets): take the socket out of Node for the native relay (splice does, when it can): reading
   * stops, and the fd (a dup) and what was read and not passed on are handed over. Null when it cannot be (ended,
   * writes queued, not a TCP socket); nothing changed then. After a hand-off the stream is the relay's.
   */
  handOff?(): HandOff | null
  /** What `handOff` would give, without taking anything: a plain TCP socket, a sealed fast socket, or neither. */
  handOffKind?(): 'plain' | 'sealed' | null
}

export interface FlowStreamHandlers {
  /**
   * Bytes from the remote, in order. The handler may keep the chunk, and the stream must not reuse its memory,
   * unless the handler opted in with `lendReads` (then the chunk is only lent until `mayReuse()` says so).
   */
  onData(chunk: Uint8Array): void
  /** The remote half-closed and every byte before its end was delivered. At most once, never after onClose. */
  onEnd(): void
  /** After a `send` returned false: the stream may be sent to again. */
  onDrain(): void
  /** The stream is finished. `error` is set when it was reset (either side) or failed, unset after a clean close. */
  onClose(error: Error | undefined): void
}

/** An address as the proxy sees it: canonical IP text and port. */
export interface FlowAddress {
  readonly ip: string
  readonly port: number
}

/**
 * The `/podlink/flow/1` header the sender writes first, in the shape of the tunnel's FlowHeader (the proxy does not
 * import the tunnel: the agent passes this object to `openFlow` unchanged).
 */
export interface FlowRequest {
  readonly protocol: L4Protocol
  readonly dst: FlowAddress
  readonly src: string | null
  readonly service: boolean
  readonly serviceKey: string
}

/** The exit's answer, in the shape of the tunnel's FlowResult. */
export type FlowAnswer = { readonly ok: true } | { readonly ok: false; readonly reason: string }

/** A flow stream on the mesh, header written, and the exit's answer still on its way. */
export interface OpenedFlow {
  /** Send payload at once (it travels right behind the header); `start` it only after `answer` resolved ok. */
  readonly stream: FlowStream
  /** Resolves with the exit's answer; rejects when the stream failed or the signal fired before it. */
  readonly answer: Promise<FlowAnswer>
  /** What carries it (for `podlink flows`). Default libp2p. */
  readonly channel?: FlowChannel
}

/** Opens a flow to `peer` and writes `request` as its header. Provided by the agent (tunnel's `openFlow`). */
export type OpenFlowStream = (
  peer: string,
  request: FlowRequest,
  options: { signal: AbortSignal },
) => Promise<OpenedFlow>

/** Time and timers, injected so tests move a manual clock instead of sleeping (core's, shared with the dataplane). */
export { systemTimers, type Timers } from '@podlink/core'
