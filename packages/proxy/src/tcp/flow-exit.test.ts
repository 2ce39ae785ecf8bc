import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { FlowRegistry } from '../registry/flow-registry.ts'
import type { FlowStream } from '../stream/flow-stream.ts'
import { createManualTimers } from '../testing/manual-timers.ts'
import { CONNECT_ATTEMPTS, createFlowExit, type ExitFlow } from './flow-exit.ts'

const flow: ExitFlow = {
  header: { protocol: 'tcp', dst: { ip: '127.0.0.1', port: 0 }, src: '10.244.1.5', service: false, serviceKey: '' },
  peer: 'peer-a',
}

/** A socket that fails to connect with `code`, the way Node reports a connect() error. */
function failing(code: string): net.Socket {
  const s = new net.Socket()
  setImmediate(() => s.emit('error', Object.assign(new Error(`connect ${code} 127.0.0.1`), { code })))
  return s
}

const servers: net.Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))))
})

async function listening(): Promise<number> {
  const server = net.createServer((s) => s.destroy())
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return (server.address() as net.AddressInfo).port
}

function exitWith(connectPod: (ip: string, port: number, attempt?: number) => net.Socket) {
  const timers = createManualTimers()
  return createFlowExit<FlowStream>({
    adapt: (s) => s,
    connectPod,
    registry: new FlowRegistry({}, timers),
    timers,
  })
}

describe('flow exit: connecting to the pod', () => {
  it('makes the connection again when the local 4-tuple was taken (EADDRNOTAVAIL), from a new socket each time', async () => {
    const port = await listening()
    const calls: number[] = []
    const exit = exitWith((ip, _port, attempt) => {
      calls.push(attempt ?? 0)
      return calls.length < 3 ? failing('EADDRNOTAVAIL') : net.connect(port, ip)
    })
    await expect(
      exit.connect(
        { ...flow, header: { ...flow.header, dst: { ip: '127.0.0.1', port } } },
        { signal: AbortSignal.timeout(5000) },
      ),
    ).resolves.toBeTypeOf('function')
    expect(calls).toEqual([1, 2, 3])
  })

  it('gives up after CONNECT_ATTEMPTS (the last one told so), and never retries another error', async () => {
    const attempts: number[] = []
    const exit = exitWith((_ip, _port, attempt) => {
      attempts.push(attempt ?? 0)
      return failing('EADDRNOTAVAIL')
    })
    await expect(exit.connect(flow, { signal: AbortSignal.timeout(5000) })).rejects.toThrow(
      /Cannot connect to 127\.0\.0\.1:0/,
    )
    expect(attempts).toEqual([1, 2, 3, CONNECT_ATTEMPTS])
    let m = 0
    const refused = exitWith(() => {
      m++
      return failing('ECONNREFUSED')
    })
    await expect(refused.connect(flow, { signal: AbortSignal.timeout(5000) })).rejects.toThrow(
      /Cannot connect to 127\.0\.0\.1:0/,
    )
    expect(m).toBe(1)
  })
})
