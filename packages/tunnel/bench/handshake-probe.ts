import type tls from 'node:tls'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { dialFast, fastCredentials, startFastServer } from '../src/index.ts'

const psk = new Uint8Array(32).fill(3)
const a = await fastCredentials(await generateKeyPair('Ed25519'), psk)
const b = await fastCredentials(await generateKeyPair('Ed25519'), psk)
const srv = await startFastServer({ host: '127.0.0.1', port: 0, credentials: b, isMember: () => true }, (s, p) => {
  s.destroy()
})
for (const reuse of [false, true, false, true]) {
  let session: Buffer | undefined
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < 300; i++) {
    const s = await dialFast({
      host: '127.0.0.1',
      port: srv.port,
      peer: b.peerId,
      credentials: a,
      signal: AbortSignal.timeout(3000),
      ...(reuse && session ? { session } : {}),
    } as any)
    if (reuse) {
      session = (s as tls.TLSSocket).getSession() ?? session
    }
    s.destroy()
  }
  const c = process.cpuUsage(cpu0)
  console.log(
    reuse ? 'resume' : 'full  ',
    ((performance.now() - t0) / 300).toFixed(3),
    'ms/dial',
    ((c.user + c.system) / 300 / 1000).toFixed(3),
    'cpu ms/dial',
  )
}
process.exit(0)
