import net from 'node:net'
import { PodlinkError } from '@podlink/core'
import { IP6T_SO_ORIGINAL_DST, libc, SO_ORIGINAL_DST, SOL_IP, SOL_IPV6, sysError } from '../native/libc.ts'
import { parseSockaddr, type SocketAddress } from '../native/sockaddr.ts'
import { unmapIpv4 } from '../rules/ip-address.ts'

export interface TcpCaptureOptions {
  /** The port REDIRECT sends to (`tcpPort` of the ruleset). */
  readonly port: number
  /** Default `::`, dual-stack: REDIRECTed IPv4 arrives as `::ffff:a.b.c.d` and SOL_IP still answers. */
  readonly host?: string
  /** Told about connections refused because they were not redirected (a direct connect to the listener). */
  readonly onRejected?: (source: SocketAddress, reason: string) => void
}

export interface CapturedConnection {
  readonly socket: net.Socket
  /** Where the client meant to go, from SO_ORIGINAL_DST. */
  readonly originalDst: SocketAddress
  readonly source: SocketAddress
}

export interface TcpCapture {
  readonly port: number
  close(): Promise<void>
}

/**
 * The transparent TCP listener: every accepted connection is handed over with its original destination.
 * The fd is read synchronously in the accept callback, the only moment it is guaranteed to exist.
 */
export async function createTcpCapture(
  options: TcpCaptureOptions,
  onConnection: (c: CapturedConnection) => void,
): Promise<TcpCapture> {
  const server = net.createServer({ noDelay: true }, (socket) => {
    const source = {
      family: net.isIPv6(unmapIpv4(socket.remoteAddress ?? '')) ? 6 : 4,
      address: unmapIpv4(socket.remoteAddress ?? ''),
      port: socket.remotePort ?? 0,
    } as const
    let originalDst: SocketAddress
    try {
      originalDst = originalDestination(socket)
    } catch (err) {
      socket.destroy()
      options.onRejected?.(source, err instanceof Error ? err.message : String(err))
      return
    }
    // Not redirected: SO_ORIGINAL_DST then returns the listener's own address. Serving it would loop.
    if (originalDst.port === socket.localPort && originalDst.address === unmapIpv4(socket.localAddress ?? '')) {
      socket.destroy()
      options.onRejected?.(
        source,
        `connection to the capture listener itself (${originalDst.address}:${originalDst.port})`,
      )
      return
    }
    onConnection({ socket, originalDst, source })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause) =>
      reject(
        new PodlinkError('DATAPLANE_LISTEN_FAILED', `Cannot listen on TCP port ${options.port} as ${cause.message}`, {
          cause,
        }),
      ),
    )
    server.listen({ port: options.port, host: options.host ?? '::' }, resolve)
  })
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

/** SO_ORIGINAL_DST on an accepted socket: SOL_IP first (IPv4, also v4-mapped), then SOL_IPV6. */
export function originalDestination(socket: net.Socket): SocketAddress {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
  if (typeof fd !== 'number' || fd < 0) {
    throw new PodlinkError('DATAPLANE_NO_FD', 'Cannot read the original destination as the socket has no fd')
  }
  const c = libc()
  const buf = Buffer.alloc(28)
  if (c.getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, buf, [16]) === 0) {
    const a = parseSockaddr(buf)
    if (a) return a
  }
  if (c.getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, buf, [28]) === 0) {
    const a = parseSockaddr(buf)
    if (a) return a
  }
  throw sysError('DATAPLANE_NO_ORIGINAL_DST', 'read SO_ORIGINAL_DST')
}
