import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/*
 * Two namespaces joined by one veth, each dropping unsolicited inbound SYNs to the punch port (ctstate NEW), as a
 * NAT's filter does. A connects first (its SYN is dropped at B), then B: B's SYN matches A's pending attempt, so the
 * only way through is a simultaneous open from both listening ports, which libp2p's own listener never sees.
 */
const NS = ['pltn-pa', 'pltn-pb'] as const
const IP = ['10.99.77.1', '10.99.77.2'] as const
const PORT = 4001
const peerScript = fileURLToPath(new URL('../testing/punch-peer.ts', import.meta.url))

function sh(...args: string[]): void {
  execFileSync(args[0]!, args.slice(1), { stdio: 'pipe' })
}

function teardown(): void {
  for (const ns of NS) {
    try {
      sh('ip', 'netns', 'del', ns)
    } catch {
      // absent already: nothing to remove
    }
  }
}

interface Peer {
  proc: ChildProcessWithoutNullStreams
  next(): Promise<Record<string, unknown>>
}

function startPeer(ns: string, ip: string): Peer {
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, peerScript, ip, String(PORT)])
  const queue: string[] = []
  const waiters: Array<(line: string) => void> = []
  createInterface({ input: proc.stdout }).on('line', (line) => {
    const w = waiters.shift()
    if (w) w(line)
    else queue.push(line)
  })
  proc.stderr.on('data', (d: Buffer) => process.stderr.write(`[${ns}] ${d}`))
  return {
    proc,
    next: () =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${ns}: no output in 30 s`)), 30_000)
        const take = (line: string): void => {
          clearTimeout(timer)
          resolve(JSON.parse(line) as Record<string, unknown>)
        }
        const queued = queue.shift()
        if (queued !== undefined) take(queued)
        else waiters.push(take)
      }),
  }
}

describe('TCP hole punch between two libp2p nodes', () => {
  const peers: Peer[] = []
  beforeAll(() => {
    teardown()
    for (const ns of NS) sh('ip', 'netns', 'add', ns)
    sh('ip', 'link', 'add', 'pltnva', 'netns', NS[0], 'type', 'veth', 'peer', 'name', 'pltnvb', 'netns', NS[1])
    for (const [i, ns] of NS.entries()) {
      const dev = i === 0 ? 'pltnva' : 'pltnvb'
      sh('ip', '-n', ns, 'addr', 'add', `${IP[i]}/24`, 'dev', dev)
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
      sh('ip', '-n', ns, 'link', 'set', dev, 'up')
      sh(
        'ip',
        'netns',
        'exec',
        ns,
        'iptables',
        '-A',
        'INPUT',
        '-p',
        'tcp',
        '--dport',
        String(PORT),
        '-m',
        'conntrack',
        '--ctstate',
        'NEW',
        '-j',
        'DROP',
      )
    }
  })
  afterAll(() => {
    for (const p of peers) p.proc.kill()
    teardown()
  })

  it('ends with one authenticated libp2p connection each side; identify and a stream echo work over it', async () => {
    const a = startPeer(NS[0], IP[0])
    const b = startPeer(NS[1], IP[1])
    peers.push(a, b)
    const idA = (await a.next()).peerId as string
    const idB = (await b.next()).peerId as string
    a.proc.stdin.write(
      `${JSON.stringify({ remotePeer: idB, remoteHost: IP[1], remotePort: PORT, role: 'initiator', delayMs: 0 })}\n`,
    )
    b.proc.stdin.write(
      `${JSON.stringify({ remotePeer: idA, remoteHost: IP[0], remotePort: PORT, role: 'responder', delayMs: 150 })}\n`,
    )
    const [ra, rb] = await Promise.all([a.next(), b.next()])
    console.log('punch results', ra, rb)
    expect(ra).toMatchObject({
      ok: true,
      direction: 'outbound',
      encryption: '/tls/1.0.0',
      muxer: '/yamux/1.0.0',
      remotePeer: idB,
      listed: true,
    })
    expect(rb).toMatchObject({
      ok: true,
      direction: 'inbound',
      encryption: '/tls/1.0.0',
      muxer: '/yamux/1.0.0',
      remotePeer: idA,
      listed: true,
    })
    expect(ra.local).toBe(`${IP[0]}:${PORT}`)
    expect(rb.local).toBe(`${IP[1]}:${PORT}`)
    expect(ra.echo).toBe('through the punched connection')
    expect(ra.identifiedProtocols).toContain('/podlink/test-echo/1')
  })
})
