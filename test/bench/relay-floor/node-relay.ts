/**
 * node-relay.ts A|B LISTEN_PORT TARGET_PORT CERT KEY: the relay-floor benchmark's Node relay, the fast channel's
 * shape: A takes plain TCP and dials B over TLS 1.3 (AES-128-GCM, as the fast channel), B dials the target in plain
 * TCP; each side joins its two sockets with podlink's own socketFlowStream + splice.
 */
import { readFileSync } from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'
import { systemTimers } from '../../../packages/proxy/src/stream/flow-stream.ts'
import { socketFlowStream } from '../../../packages/proxy/src/stream/socket-flow-stream.ts'
import { splice } from '../../../packages/proxy/src/stream/splice.ts'

const [role, listen, target, certFile, keyFile] = process.argv.slice(2)
const TLS = {
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
  ciphers: 'TLS_AES_128_GCM_SHA256',
  rejectUnauthorized: false,
} as const
const join = (a: net.Socket, b: net.Socket): void => {
  splice(socketFlowStream(a), socketFlowStream(b), { timers: systemTimers, idleTimeoutMs: 0 })
}
const ready = (): void => console.log('ready')
if (role === 'A') {
  net
    .createServer((c) => {
      const out = tls.connect({ host: '127.0.0.1', port: Number(target), ...TLS })
      out.once('secureConnect', () => join(c, out))
      out.once('error', () => c.destroy())
    })
    .listen(Number(listen), '127.0.0.1', ready)
} else {
  tls
    .createServer({ cert: readFileSync(certFile!), key: readFileSync(keyFile!), ...TLS }, (c) => {
      const out = net.connect(Number(target), '127.0.0.1')
      out.once('connect', () => join(c, out))
      out.once('error', () => c.destroy())
    })
    .listen(Number(listen), '127.0.0.1', ready)
}
