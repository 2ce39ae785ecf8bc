import dgram from 'node:dgram'
import net from 'node:net'
import type { IpFamily } from '@podlink/core'
import {
  AF_INET,
  AF_INET6,
  intOption,
  libc,
  SO_MARK,
  SO_REUSEADDR,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
  sysError,
} from '../native/libc.ts'
import { encodeSockaddr } from '../native/sockaddr.ts'
import { DEFAULT_RULESET_OPTIONS } from '../rules/compute-ruleset.ts'

export interface MarkedTcpOptions {
  readonly host: string
  readonly port: number
  /** Default: the ruleset's bypass mark, which every PODLINK chain RETURNs first. */
  readonly mark?: number
  /**
   * Bind to this local port first, with SO_REUSEADDR, so that connect() may take over a TIME_WAIT 4-tuple (see
   * exit-ports.ts). A port another socket holds throws DATAPLANE_PORT_IN_USE; a 4-tuple still in use fails the
   * connect with EADDRNOTAVAIL. Default: the kernel picks at connect().
   */
  readonly localPort?: number
}

/**
 * A TCP client that the capture rules skip. Node cannot set SO_MARK before connect(), and the mark must be on
 * the SYN, so the socket is made with socket(2), marked, and handed to `net.Socket` unconnected.
 * Needs CAP_NET_ADMIN. `host` must be an IP literal.
 */
export function createMarkedTcpConnection(options: MarkedTcpOptions): net.Socket {
  const family = net.isIPv6(options.host) ? 6 : 4
  const fd = markedFd(family, SOCK_STREAM, options.mark)
  if (options.localPort !== undefined) {
    try {
      intOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, 'set SO_REUSEADDR')
      const sa = encodeSockaddr(family, family === 4 ? '0.0.0.0' : '::', options.localPort)
      if (libc().bind(fd, sa, sa.length) !== 0)
        throw sysError('DATAPLANE_PORT_IN_USE', `bind local port ${options.localPort}`)
    } catch (err) {
      libc().close(fd)
      throw err
    }
  }
  const socket = new net.Socket({ fd, readable: true, writable: true })
  return socket.connect({ host: options.host, port: options.port })
}

export interface MarkedUdpOptions {
  readonly family: IpFamily
  readonly mark?: number
  /** Bind address; default the wildcard. */
  readonly address?: string
  readonly port?: number
}

/** A UDP socket, bound and marked, that the capture rules skip (the agent's upstream datagrams). */
export function createMarkedUdpSocket(options: MarkedUdpOptions): dgram.Socket {
  const fd = markedFd(options.family, SOCK_DGRAM, options.mark)
  const sa = encodeSockaddr(
    options.family,
    options.address ?? (options.family === 4 ? '0.0.0.0' : '::'),
    options.port ?? 0,
  )
  if (libc().bind(fd, sa, sa.length) !== 0) {
    const err = sysError('DATAPLANE_SOCKET_FAILED', 'bind a marked UDP socket')
    libc().close(fd)
    throw err
  }
  const s = dgram.createSocket(options.family === 4 ? 'udp4' : 'udp6')
  s.bind({ fd })
  return s
}

function markedFd(family: IpFamily, type: number, mark = DEFAULT_RULESET_OPTIONS.bypassMark): number {
  const c = libc()
  const fd = c.socket(family === 4 ? AF_INET : AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
  if (fd < 0) throw sysError('DATAPLANE_SOCKET_FAILED', 'create a marked socket')
  try {
    intOption(fd, SOL_SOCKET, SO_MARK, mark, 'set SO_MARK (needs CAP_NET_ADMIN)')
  } catch (err) {
    c.close(fd)
    throw err
  }
  return fd
}
