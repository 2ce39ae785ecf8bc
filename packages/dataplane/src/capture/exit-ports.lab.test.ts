import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deleteNetnsWithPrefix, enterNetns, sh } from '../testing/netns.ts'
import { createExitPorts } from './exit-ports.ts'
import { createMarkedTcpConnection } from './marked-socket.ts'

/*
 * One namespace, pldpx-node, with an ephemeral range of 10 ports and a TCP server on lo. Each connection is closed by
 * the client first, as the exit closes towards a pod when it carries the client's FIN, so the client's side keeps the
 * port in TIME_WAIT for 60 s. This process works inside the namespace (its main thread).
 */
const NS = 'pldpx-node'
const PORTS: readonly [number, number] = [40000, 40009]
let leave: () => void = () => {}
let server: net.Server
let serverPort = 0

/** Connects, sends a byte, closes first (FIN from here), waits until the server's FIN came back: the local port. */
function oneClientFirst(socket: net.Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    let local = 0
    socket.once('error', reject)
    socket.once('connect', () => {
      local = socket.localPort ?? 0
      socket.end('x')
    })
    socket.on('data', () => {})
    socket.once('close', () => resolve(local))
  })
}

function timeWaitCount(): number {
  return sh(`ip netns exec ${NS} ss -Htan state time-wait`).split('\n').filter(Boolean).length
}

describe('exit ports (real kernel: TIME_WAIT on the connecting side)', () => {
  beforeAll(async () => {
    deleteNetnsWithPrefix('pldpx')
    sh(`ip netns add ${NS} && ip -n ${NS} link set lo up`)
    sh(`ip netns exec ${NS} sysctl -qw net.ipv4.ip_local_port_range="${PORTS[0]} ${PORTS[1]}"`)
    leave = enterNetns(NS)
    server = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('data', () => {})
      s.on('end', () => s.end())
      s.on('error', () => {})
    })
    await new Promise<void>((r) => server.listen(50000, '127.0.0.1', r))
    serverPort = (server.address() as net.AddressInfo).port
  })

  afterAll(async () => {
    await new Promise((r) => server?.close(r))
    leave()
    deleteNetnsWithPrefix('pldpx')
  })

  it('a socket bound to a chosen port with SO_REUSEADDR takes over TIME_WAIT ports: 40 connections through 10 ports', async () => {
    const ports = createExitPorts({ range: PORTS, reserved: () => false, churnThreshold: -1 })
    const destination = `127.0.0.1:${serverPort}`
    const used = new Set<number>()
    for (let i = 0; i < 40; i++) {
      let socket: net.Socket | null = null
      for (let attempt = 0; attempt < 20 && socket === null; attempt++) {
        const localPort = ports.pick(destination)
        if (localPort === null) continue
        try {
          socket = createMarkedTcpConnection({ host: '127.0.0.1', port: serverPort, localPort })
        } catch (err) {
          expect((err as { code?: string }).code).toBe('DATAPLANE_PORT_IN_USE')
        }
      }
      expect(socket, `connection ${i + 1}: no port bound`).not.toBeNull()
      used.add(await oneClientFirst(socket!))
    }
    expect([...used].every((p) => p >= PORTS[0] && p <= PORTS[1])).toBe(true)
    expect(timeWaitCount()).toBeGreaterThanOrEqual(5)
  })

  it("the kernel's own choice skips those TIME_WAIT ports: with the range full, connect fails (what the exit avoids)", async () => {
    expect(timeWaitCount()).toBeGreaterThanOrEqual(5)
    const failures: string[] = []
    for (let i = 0; i < 12; i++) {
      try {
        await oneClientFirst(createMarkedTcpConnection({ host: '127.0.0.1', port: serverPort }))
      } catch (err) {
        failures.push((err as { code?: string }).code ?? String(err))
      }
    }
    expect(failures.length).toBeGreaterThan(0)
    expect(new Set(failures)).toEqual(new Set(['EADDRNOTAVAIL']))
  })
})
