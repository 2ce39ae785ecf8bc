import { createHmac, timingSafeEqual } from 'node:crypto'
import type net from 'node:net'
import tls from 'node:tls'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { generateCertificate, verifyPeerCertificate } from '@libp2p/tls/utils'
import { BUSY_KEEPALIVE_MS, PodlinkError } from '@podlink/core'
import type { PeerRefusal } from '../node/create-tunnel-node.ts'
import { fixedDecoder, readSocketPrefix } from './read-socket-prefix.ts'
import { leaveTls, SEALED_ALPN, stopReadingUnderTls } from './sealed-socket.ts'

/**
 * The fast channel: one TLS 1.3 connection per flow, straight between two agents that can dial each other, beside
 * the libp2p connection. Node's TLS runs in OpenSSL (C++) and the proxy splices two sockets, so a flow no longer
 * pays for yamux framing, JS stream machinery and a JS muxer's copies on both ends (see issue #10's note).
 *
 * Security is libp2p's: each side presents the certificate @libp2p/tls makes from the node's identity key (a
 * self-signed key signed by the peer ID's key, libp2p TLS spec), and checks the other's with the same code.
 * The dialler requires the peer ID it meant to reach; the listener admits member peer IDs only. Then both prove the
 * cluster's pre-shared key over this very session: HMAC-SHA256(psk, role | TLS exporter secret), so a proof is
 * bound to one session and cannot be replayed. Then the socket carries `/podlink/flow/1` exactly as a libp2p
 * stream does: header, response, payload.
 */
export const FAST_ALPN = 'podlink-flow/1'
const EXPORTER_LABEL = 'EXPORTER-podlink-fast-psk-proof'
const PROOF_BYTES = 32

export interface FastCredentials {
  readonly peerId: string
  readonly cert: string
  readonly key: string
  /**
   * The dialler's TLS context, made once: building one per dial (what passing cert and key to tls.connect does)
   * parses the key and certificate again for every flow.
   */
  readonly context: tls.SecureContext
  /** The swarm key's 32 bytes; null on an open network (tests only): no proof is exchanged then. */
  readonly psk: Uint8Array | null
  /**
   * Offer sealed records after the handshake (ALPN podlink-flow/2, sealed-socket.ts): set when this agent has the
   * native relay to carry them. Used when both ends offer it; else TLS carries the flow (podlink-flow/1).
   */
  readonly sealed: boolean
}

export async function fastCredentials(
  privateKey: PrivateKey,
  psk: Uint8Array | null,
  options: { sealed?: boolean } = {},
): Promise<FastCredentials> {
  const { cert, key } = await generateCertificate(privateKey)
  const context = tls.createSecureContext({ cert, key, ...TLS_CONTEXT })
  const sealed = options.sealed ?? false
  return { peerId: peerIdFromPrivateKey(privateKey).toString(), cert, key, context, psk, sealed }
}

/** The protocols a node offers, best first. */
const alpn = (credentials: FastCredentials): string[] => (credentials.sealed ? [SEALED_ALPN, FAST_ALPN] : [FAST_ALPN])

/**
 * A fast socket as its owner sees it: a TLS socket (podlink-flow/1), or a SealedSocket (podlink-flow/2), which
 * offers the same parts the pool and the flows use (a Duplex with getSession, setNoDelay, setKeepAlive,
 * resetAndDestroy and the TCP handle under it), so both travel as a TLSSocket.
 */
export type FastSocket = tls.TLSSocket

/**
 * Certificates already verified, by their bytes: the libp2p extension check parses ASN.1 in JS and verifies a
 * signature, about a millisecond per connection, while a peer presents the same certificate on every connection
 * until it restarts. The TLS handshake itself still proves, every time, that the peer holds the certificate's key.
 */
const verified = new Map<string, string>()
const MAX_VERIFIED = 4096

async function peerOfCertificate(raw: Buffer): Promise<string> {
  const key = raw.toString('base64')
  const known = verified.get(key)
  if (known !== undefined) return known
  const peer = (await verifyPeerCertificate(new Uint8Array(raw))).toString()
  if (verified.size >= MAX_VERIFIED) verified.delete(verified.keys().next().value!)
  verified.set(key, peer)
  return peer
}

function proof(socket: tls.TLSSocket, psk: Uint8Array, role: 'client' | 'server'): Buffer {
  const secret = socket.exportKeyingMaterial(32, EXPORTER_LABEL, Buffer.alloc(0))
  return createHmac('sha256', psk).update(role).update(secret).digest()
}

/**
 * After the TLS handshake the dialler sends its proof; the listener checks it, then answers with its own proof and
 * one verdict byte: whether it admits the dialler. So a dialler learns why it was turned away, and the listener
 * counts a wrong key as such whoever presents it. Without a PSK (an open network, tests only) only the verdict goes.
 */
const VERDICTS = { admitted: 1, 'not-a-member': 2, 'too-many-sockets': 3, 'wrong-psk': 4 } as const
type Verdict = keyof typeof VERDICTS

const PSK_MISMATCH = (): PodlinkError =>
  new PodlinkError('PSK_MISMATCH', 'Cannot admit the fast connection as the peer does not hold the swarm key')

/** The listener's half: true when the dialler proved the key (the caller then decides and calls `answer`). */
async function checkDiallerProof(socket: tls.TLSSocket, psk: Uint8Array | null, signal: AbortSignal): Promise<boolean> {
  if (psk === null) return true
  const theirs = await readSocketPrefix(socket, fixedDecoder(PROOF_BYTES), 'header-timeout', { signal })
  return timingSafeEqual(theirs, proof(socket, psk, 'client'))
}

function answer(
  socket: tls.TLSSocket,
  psk: Uint8Array | null,
  verdict: Verdict,
  written?: (err?: Error | null) => void,
): void {
  const code = Uint8Array.of(VERDICTS[verdict])
  socket.write(psk === null ? code : Buffer.concat([proof(socket, psk, 'server'), code]), written)
}

/** The dialler's half: send our proof, check the listener's, and read its verdict. */
async function proveToListener(socket: tls.TLSSocket, psk: Uint8Array | null, signal: AbortSignal): Promise<void> {
  if (psk !== null) socket.write(proof(socket, psk, 'client'))
  const want = (psk === null ? 0 : PROOF_BYTES) + 1
  let got: Buffer
  try {
    got = await readSocketPrefix(socket, fixedDecoder(want), 'header-timeout', { signal })
  } catch (err) {
    throw new PodlinkError('FAST_CLOSED', 'The fast listener closed the connection before it answered our proof', {
      cause: err,
    })
  }
  if (psk !== null && !timingSafeEqual(got.subarray(0, PROOF_BYTES), proof(socket, psk, 'server'))) throw PSK_MISMATCH()
  const verdict = (Object.keys(VERDICTS) as Verdict[]).find((v) => VERDICTS[v] === got[want - 1])
  if (verdict === 'admitted') return
  if (verdict === 'wrong-psk') throw PSK_MISMATCH()
  throw new PodlinkError(
    'FAST_NOT_ADMITTED',
    verdict === 'not-a-member'
      ? 'The fast listener does not admit us: our peer ID is on none of its Nodes'
      : verdict === 'too-many-sockets'
        ? 'The fast listener does not admit us: we hold too many connections to it'
        : `The fast listener answered with an unknown verdict ${got[want - 1]}`,
  )
}

const TLS_CONTEXT = {
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
  // AES-128-GCM first: 10-17% more one-socket throughput than Node's default AES-256-GCM here (AES-NI).
  ciphers: 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
} as const

const TLS_OPTIONS = {
  ...TLS_CONTEXT,
  // Self-signed by design: the libp2p extension is what is checked.
  rejectUnauthorized: false,
} as const

export interface FastServerOptions {
  readonly host?: string
  readonly port: number
  readonly credentials: FastCredentials
  isMember(peerId: string): boolean
  /** Hears of every peer shut out after its handshake: wrong-psk or not-a-member (for counting). */
  onRefused?(refusal: PeerRefusal): void
  /** TLS handshake plus proof must finish within this. Default 5000 ms. */
  readonly handshakeTimeoutMs?: number
  /** Sockets one peer may hold here at once, idle or carrying a flow. Default 1100 (above the per-peer flow limit). */
  readonly maxSocketsPerPeer?: number
}

export interface FastServer {
  readonly port: number
  /**
   * Serve a TCP socket this listener did not accept (a punched one, whose peer is the TLS client): it goes through
   * the same handshake, proofs and admission as an accepted one.
   */
  adopt(socket: net.Socket): void
  /** Sockets open now, by peer. */
  sockets(): ReadonlyMap<string, number>
  close(): Promise<void>
}

/**
 * Listen for fast connections. `onSocket` gets each authenticated, proven socket, paused, with its peer ID; it owns
 * the socket from then on. Rejects when the port cannot be bound.
 */
export async function startFastServer(
  options: FastServerOptions,
  onSocket: (socket: FastSocket, peer: string) => void,
): Promise<FastServer> {
  const handshakeMs = options.handshakeTimeoutMs ?? 5_000
  const maxPerPeer = options.maxSocketsPerPeer ?? 1100
  const perPeer = new Map<string, number>()
  const all = new Set<net.Socket | FastSocket>()
  const server = tls.createServer({
    ...TLS_OPTIONS,
    ALPNProtocols: alpn(options.credentials),
    cert: options.credentials.cert,
    key: options.credentials.key,
    requestCert: true,
    honorCipherOrder: true,
    handshakeTimeout: handshakeMs,
  })
  server.maxConnections = 8192
  // A failed handshake (a port scanner, a client without a certificate) is the client's problem: drop and go on.
  server.on('tlsClientError', (_err, socket) => socket.destroy())
  server.on('connection', (raw: net.Socket) => {
    // A fast socket carries a flow, or waits in a pool for one: probe after 1 s of silence (BUSY_KEEPALIVE_MS).
    raw.setKeepAlive(true, BUSY_KEEPALIVE_MS)
    all.add(raw)
    raw.once('close', () => all.delete(raw))
  })
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    // Errors surface to whoever reads the socket (its 'close' follows); never uncaught.
    socket.on('error', () => {})
    socket.pause()
    void admit(socket)
  })

  async function admit(socket: tls.TLSSocket): Promise<void> {
    const signal = AbortSignal.timeout(handshakeMs)
    let peer: string
    try {
      const raw = socket.getPeerCertificate().raw
      if (raw === undefined) throw new PodlinkError('FAST_NO_CERTIFICATE', 'The client sent no certificate')
      peer = await peerOfCertificate(raw)
    } catch {
      socket.destroy()
      return
    }
    const psk = options.credentials.psk
    let proven: boolean
    try {
      proven = await checkDiallerProof(socket, psk, signal)
    } catch {
      socket.destroy()
      return
    }
    const turnAway = (verdict: Verdict): void => {
      answer(socket, psk, verdict)
      // end, not destroy: the answer is what tells the dialler why.
      socket.end()
      setTimeout(() => socket.destroy(), 1000).unref()
    }
    if (!proven) {
      options.onRefused?.({ reason: 'wrong-psk' })
      turnAway('wrong-psk')
      return
    }
    if (!options.isMember(peer)) {
      options.onRefused?.({ reason: 'not-a-member', peer })
      turnAway('not-a-member')
      return
    }
    const count = perPeer.get(peer) ?? 0
    if (count >= maxPerPeer) {
      turnAway('too-many-sockets')
      return
    }
    perPeer.set(peer, count + 1)
    let counting = true
    const uncount = (): void => {
      if (!counting) return
      counting = false
      const left = (perPeer.get(peer) ?? 1) - 1
      if (left === 0) perPeer.delete(peer)
      else perPeer.set(peer, left)
    }
    if (socket.alpnProtocol !== SEALED_ALPN) {
      socket.once('close', uncount)
      answer(socket, psk, 'admitted')
      onSocket(socket, peer)
      return
    }
    // Sealed records from here: nothing the dialler sends after our verdict may reach OpenSSL (sealed-socket.ts).
    stopReadingUnderTls(socket)
    // A socket that dies before the verdict is written never gets its callback: it is uncounted on its close.
    socket.once('close', uncount)
    answer(socket, psk, 'admitted', (err) => {
      socket.off('close', uncount)
      let sealed: FastSocket
      try {
        if (err) throw err
        sealed = leaveTls(socket, 'server') as unknown as FastSocket
      } catch {
        socket.destroy()
        uncount()
        return
      }
      sealed.on('error', () => {})
      sealed.once('close', uncount)
      // The TCP socket `all` held is gone with the TLS socket; close() must still reach the connection.
      all.add(sealed)
      sealed.once('close', () => all.delete(sealed))
      onSocket(sealed, peer)
    })
  }

  await listenExclusive(server, options.port, options.host)
  return {
    port: (server.address() as net.AddressInfo).port,
    // tls.Server wraps whatever its 'connection' event hands it, as net.Server's accept does.
    adopt: (socket) => {
      socket.on('error', () => {})
      server.emit('connection', socket)
    },
    sockets: () => new Map(perPeer),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of all) s.destroy()
      }),
  }
}

/** Listen on host:port (all addresses by default); rejects when the port cannot be bound. */
export function listenExclusive(server: net.Server, port: number, host = '0.0.0.0'): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

export interface FastDialOptions {
  readonly host: string
  readonly port: number
  /** A TCP socket already connected to the listener (a punched one): TLS runs over it; host and port unused. */
  readonly socket?: net.Socket
  /** The peer ID the listener must prove. */
  readonly peer: string
  readonly credentials: FastCredentials
  readonly signal: AbortSignal
  /** A TLS session of an earlier connection to the same listener, to resume (no certificate signatures then). */
  readonly session?: Buffer
}

/**
 * Dial a fast connection and prove both ends. Resolves with the socket paused and nothing read past the proofs.
 * Rejects (and destroys the socket) on any failure: refused, timeout, wrong peer ID, PSK mismatch.
 */
export async function dialFast(options: FastDialOptions): Promise<FastSocket> {
  const { signal, credentials } = options
  signal.throwIfAborted()
  const socket = tls.connect({
    ...TLS_OPTIONS,
    ALPNProtocols: alpn(credentials),
    ...(options.socket === undefined ? { host: options.host, port: options.port } : { socket: options.socket }),
    secureContext: credentials.context,
    ...(options.session === undefined ? {} : { session: options.session }),
  })
  // An error after the handshake is seen by whoever reads the socket next (its 'close' follows); never uncaught.
  socket.on('error', () => {})
  // See BUSY_KEEPALIVE_MS: a flow that only receives finds a NAT mapping its router forgot within a second or two.
  const tcp = options.socket ?? socket
  tcp.setKeepAlive(true, BUSY_KEEPALIVE_MS)
  let fail: (err: Error) => void = () => {}
  const onAbort = (): void => {
    const reason = signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason))
    fail(reason)
    socket.destroy(reason)
  }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    await new Promise<void>((resolve, reject) => {
      const onClose = (): void =>
        reject(new PodlinkError('FAST_CLOSED', 'The fast connection closed during its handshake'))
      fail = (err) => {
        socket.off('close', onClose)
        reject(err)
      }
      socket.once('error', fail)
      socket.once('close', onClose)
      socket.once('secureConnect', () => {
        socket.off('close', onClose)
        socket.off('error', fail)
        resolve()
      })
    })
    socket.pause()
    // A resumed session proves the listener is the one that issued its ticket, whose certificate we checked then
    // (the caller resumes only sessions of connections to this same peer).
    if (!socket.isSessionReused()) {
      const raw = socket.getPeerCertificate().raw
      if (raw === undefined) throw new PodlinkError('FAST_NO_CERTIFICATE', 'The listener sent no certificate')
      const peer = await peerOfCertificate(raw)
      if (peer !== peerIdFromString(options.peer).toString())
        throw new PodlinkError(
          'FAST_WRONG_PEER',
          `The fast listener is ${peer}, not the peer ${options.peer} we dialled`,
        )
    }
    await proveToListener(socket, credentials.psk, signal)
    if (socket.alpnProtocol !== SEALED_ALPN) return socket
    // The listener sends nothing after its verdict until a flow header comes: nothing sealed is in TLS's hands.
    const sealed = leaveTls(socket, 'client') as unknown as FastSocket
    sealed.on('error', () => {})
    return sealed
  } catch (err) {
    socket.destroy()
    throw err
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
