/**
 * One-stream throughput over loopback, tls vs noise, without PSK, with @libp2p/pnet (XSalsa20 on every byte) and
 * with podlink's once-per-connection PSK proof. Sender in this process, receiver in a child process, so each
 * process' CPU is its own. 256 MiB per run, 64 KiB sends with backpressure, timed from stream open until the
 * receiver's byte-count reply. Run: node packages/tunnel/bench/throughput.bench.ts [MiB]
 * CPU% = process.cpuUsage() (user+system, all threads) over the transfer, as % of one core.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import {
  createTunnelNode,
  type EncrypterName,
  type PskMode,
  type TunnelNode,
  type TunnelNodeOptions,
} from '../src/index.ts'
import { generateSwarmKey, parseSwarmKey } from '../src/node/swarm-key.ts'

const PROTOCOL = '/podlink/bench/1'
const CHUNK = 64 * 1024

interface Config {
  encrypter: EncrypterName
  psk: PskMode | 'none'
}

function nodeOptions(config: Config, swarmFile: string): TunnelNodeOptions {
  return {
    listen: ['/ip4/127.0.0.1/tcp/0'],
    publicRanges: ['127.0.0.0/8'],
    encrypters: [config.encrypter],
    psk: config.psk === 'none' ? null : { key: parseSwarmKey(Buffer.from(swarmFile, 'hex')), mode: config.psk },
  }
}

async function receiver(args: string[]): Promise<void> {
  const [configJson = '', keyHex = '', swarmHex = '', senderId = ''] = args
  const config = JSON.parse(configJson) as Config
  const node = await createTunnelNode(
    { ...nodeOptions(config, swarmHex), members: [senderId] },
    { privateKey: privateKeyFromProtobuf(Buffer.from(keyHex, 'hex')) },
  )
  await node.libp2p.handle(PROTOCOL, async (stream) => {
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    let n = 0
    for await (const chunk of stream) n += chunk.byteLength
    const cpu = process.cpuUsage(cpu0)
    const ms = performance.now() - t0
    stream.send(new TextEncoder().encode(JSON.stringify({ n, cpuPct: ((cpu.user + cpu.system) / 1000 / ms) * 100 })))
    await stream.close()
  })
  process.stdout.write(`${node.libp2p.getMultiaddrs()[0]?.toString()}\n`)
  process.stdin.resume()
  process.stdin.on('end', () => {
    void node.stop().then(() => process.exit(0))
  })
}

async function send(node: TunnelNode, ma: Multiaddr, chunk: Uint8Array, bytes: number): Promise<void> {
  const stream = await node.libp2p.dialProtocol(ma, PROTOCOL, { signal: AbortSignal.timeout(10_000) })
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!stream.send(chunk)) await stream.onDrain({ signal: AbortSignal.timeout(30_000) })
  }
  await stream.close()
  for await (const _ of stream) {
    // drain the receiver's reply
  }
}

async function run(config: Config, bytes: number): Promise<Record<string, string | number>> {
  const swarm = Buffer.from(generateSwarmKey().file).toString('hex')
  const senderKey = await generateKeyPair('Ed25519')
  const recvKey = await generateKeyPair('Ed25519')
  const sender = await createTunnelNode(nodeOptions(config, swarm), { privateKey: senderKey })
  const child = spawn(process.execPath, [
    fileURLToPath(import.meta.url),
    'recv',
    JSON.stringify(config),
    Buffer.from(privateKeyToProtobuf(recvKey)).toString('hex'),
    swarm,
    sender.peerId,
  ])
  child.stderr.pipe(process.stderr)
  try {
    const addr = await new Promise<string>((resolve) => {
      createInterface({ input: child.stdout }).once('line', resolve)
    })
    const ma = multiaddr(addr)
    await sender.setMembers([ma.getComponents().find((c) => c.name === 'p2p')?.value ?? ''])
    const chunk = new Uint8Array(CHUNK).fill(7)
    // Warm-up stream (16 MiB) so yamux windows have grown and the JIT is hot before the timed run.
    await send(sender, ma, chunk, 16 * 1024 * 1024)
    const stream = await sender.libp2p.dialProtocol(ma, PROTOCOL, { signal: AbortSignal.timeout(10_000) })
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    for (let sent = 0; sent < bytes; sent += CHUNK) {
      if (!stream.send(chunk)) await stream.onDrain({ signal: AbortSignal.timeout(30_000) })
    }
    await stream.close()
    let reply = ''
    for await (const c of stream) reply += new TextDecoder().decode(c.subarray())
    const ms = performance.now() - t0
    const cpu = process.cpuUsage(cpu0)
    const r = JSON.parse(reply) as { n: number; cpuPct: number }
    if (r.n !== bytes) throw new Error(`receiver counted ${r.n} of ${bytes} bytes`)
    return {
      encrypter: config.encrypter,
      psk: config.psk,
      'MB/s': Number((bytes / ms / 1000).toFixed(1)),
      'sender CPU%': Math.round(((cpu.user + cpu.system) / 1000 / ms) * 100),
      'receiver CPU%': Math.round(r.cpuPct),
      seconds: Number((ms / 1000).toFixed(2)),
    }
  } finally {
    child.stdin.end()
    await sender.stop()
  }
}

if (process.argv[2] === 'recv') {
  await receiver(process.argv.slice(3))
} else {
  const mib = Number(process.argv[2] ?? 256)
  const rows: Array<Record<string, string | number>> = []
  for (const psk of ['none', 'proof', 'pnet'] as const) {
    for (const encrypter of ['tls', 'noise'] as const) {
      let row: Record<string, string | number>
      try {
        row = await run({ encrypter, psk }, mib * 1024 * 1024)
      } catch (err) {
        // A failed run is a result too (e.g. a stream reset under load): report it and go on with the others.
        const what = err instanceof Error ? err.message : String((err as { type?: string }).type ?? err)
        row = { encrypter, psk, 'MB/s': 'failed', error: what }
      }
      rows.push(row)
      console.error(JSON.stringify(row))
    }
  }
  console.log(`one stream, ${mib} MiB, loopback, Node ${process.version}`)
  console.table(rows)
  process.exit(0)
}
