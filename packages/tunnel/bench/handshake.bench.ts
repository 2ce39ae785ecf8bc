/**
 * The fast channel's connection cost on loopback (both ends in this process): time and CPU per dial, a full TLS 1.3
 * handshake with libp2p certificates against one resuming the session the listener gave an earlier connection;
 * each dial includes the PSK proof and the listener's verdict. Rounds alternate to spread the machine's noise.
 * Run: pnpm bench handshake   (or node packages/tunnel/bench/handshake.bench.ts)
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { dialFast, fastCredentials, startFastServer } from '../src/index.ts'

const DIALS = 300
const psk = new Uint8Array(32).fill(3)
const a = await fastCredentials(await generateKeyPair('Ed25519'), psk)
const b = await fastCredentials(await generateKeyPair('Ed25519'), psk)
const server = await startFastServer({ host: '127.0.0.1', port: 0, credentials: b, isMember: () => true }, (s) =>
  s.destroy(),
)
for (const resume of [false, true, false, true]) {
  let session: Buffer | undefined
  let resumed = 0
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < DIALS; i++) {
    const s = await dialFast({
      host: '127.0.0.1',
      port: server.port,
      peer: b.peerId,
      credentials: a,
      signal: AbortSignal.timeout(3000),
      ...(resume && session ? { session } : {}),
    })
    if (s.isSessionReused()) resumed++
    if (resume) session = s.getSession() ?? session
    s.destroy()
  }
  const cpu = process.cpuUsage(cpu0)
  console.log(
    `${resume ? 'resumed' : 'full   '}  ${((performance.now() - t0) / DIALS).toFixed(3)} ms/dial  ` +
      `${((cpu.user + cpu.system) / DIALS / 1000).toFixed(3)} CPU ms/dial (both ends)  ${resumed}/${DIALS} resumed`,
  )
}
await server.close()
process.exit(0)
