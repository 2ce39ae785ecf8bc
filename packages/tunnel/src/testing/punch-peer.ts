/**
 * One side of the punch lab test, run as its own process inside a `pltn` namespace:
 *   node punch-peer.ts <listenHost> <port>
 * Prints {"peerId"} on start, reads one JSON order {remotePeer, remoteHost, remotePort, role, delayMs} on stdin,
 * punches, upgrades, and (initiator) echoes through a stream and reads identify's result. Prints one JSON result
 * line, then waits for stdin to close.
 */
import { createInterface } from 'node:readline'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { createTunnelNode } from '../node/create-tunnel-node.ts'
import { punchConnect } from '../punch/punch-connect.ts'
import { upgradePunchedSocket } from '../punch/upgrade-punched-socket.ts'

const [host = '0.0.0.0', portText = '4001'] = process.argv.slice(2)
const port = Number(portText)
const node = await createTunnelNode(
  { listen: [`/ip4/${host}/tcp/${port}`], publicRanges: ['10.99.77.0/24'] },
  { privateKey: await generateKeyPair('Ed25519') },
)
await node.libp2p.handle('/podlink/test-echo/1', async (stream) => {
  for await (const chunk of stream) stream.send(chunk)
  await stream.close()
})
const say = (o: object): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`)
}
say({ peerId: node.peerId })
const lines = createInterface({ input: process.stdin })
for await (const line of lines) {
  const order = JSON.parse(line) as {
    remotePeer: string
    remoteHost: string
    remotePort: number
    role: 'initiator' | 'responder'
    delayMs: number
  }
  await node.setMembers([order.remotePeer])
  await new Promise((r) => setTimeout(r, order.delayMs))
  const t0 = performance.now()
  try {
    const socket = await punchConnect({
      localHost: host,
      localPort: port,
      remoteHost: order.remoteHost,
      remotePort: order.remotePort,
    })
    const tPunch = performance.now() - t0
    const conn = await upgradePunchedSocket(
      socket,
      { role: order.role, remotePeer: order.remotePeer, signal: AbortSignal.timeout(10_000) },
      node.components,
    )
    const result: Record<string, unknown> = {
      ok: true,
      punchMs: Math.round(tPunch),
      upgradeMs: Math.round(performance.now() - t0 - tPunch),
      local: `${socket.localAddress}:${socket.localPort}`,
      direction: conn.direction,
      encryption: conn.encryption,
      muxer: conn.multiplexer,
      remotePeer: conn.remotePeer.toString(),
      listed: node.libp2p.getConnections().some((c) => c.id === conn.id),
    }
    if (order.role === 'initiator') {
      const s = await conn.newStream('/podlink/test-echo/1', { signal: AbortSignal.timeout(5000) })
      s.send(new TextEncoder().encode('through the punched connection'))
      await s.close()
      let echo = ''
      for await (const c of s) echo += new TextDecoder().decode(c.subarray())
      result.echo = echo
      const deadline = Date.now() + 5000
      let protocols: string[] = []
      while (Date.now() < deadline && !protocols.includes('/podlink/test-echo/1')) {
        protocols = (await node.libp2p.peerStore.get(peerIdFromString(order.remotePeer))).protocols
        await new Promise((r) => setTimeout(r, 50))
      }
      result.identifiedProtocols = protocols
    }
    say(result)
  } catch (err) {
    say({ ok: false, error: String(err) })
  }
}
await node.stop()
