/**
 * The lab's echo server, one process per pod (TOPOLOGY.md "Echo servers and probes"):
 * tcp/PORT writes `<pod-name>\n` as soon as a client connects, then echoes every byte;
 * udp/PORT answers each datagram with `<pod-name> <the datagram>`.
 * usage: echo-server.ts --name POD --serve tcp/8080 --serve udp/9000
 */
import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { name: { type: 'string' }, serve: { type: 'string', multiple: true } } })
const name = values.name
if (!name) throw new Error('echo-server: --name is required')
const specs = (values.serve ?? []).map((s) => {
  const m = /^(tcp|udp)\/(\d+)$/.exec(s)
  if (!m) throw new Error(`echo-server: cannot serve ${s}: want tcp/PORT or udp/PORT`)
  return { protocol: m[1] as 'tcp' | 'udp', port: Number(m[2]) }
})

const hello = Buffer.from(`${name}\n`)
const ready: Promise<void>[] = []
for (const spec of specs) {
  if (spec.protocol === 'tcp') {
    const server = createServer((sock) => {
      sock.setNoDelay(true)
      sock.on('error', () => sock.destroy())
      sock.write(hello)
      sock.pipe(sock)
    })
    // Dual-stack: one socket answers IPv4 and IPv6 clients.
    ready.push(new Promise((resolve) => server.listen({ port: spec.port, host: '::', ipv6Only: false }, resolve)))
  } else {
    const sock = createSocket({ type: 'udp6', ipv6Only: false })
    sock.on('message', (msg, rinfo) => {
      sock.send(Buffer.concat([Buffer.from(`${name} `), msg]), rinfo.port, rinfo.address)
    })
    ready.push(new Promise((resolve) => sock.bind({ port: spec.port, address: '::' }, resolve)))
  }
}
await Promise.all(ready)
console.log(`echo ${name} ready: ${specs.map((s) => `${s.protocol}/${s.port}`).join(' ')}`)
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0))
