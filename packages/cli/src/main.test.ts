/**
 * End to end: a stand-in agent (HTTP on a Unix socket in a temp dir, serving the fixture and the /trace and
 * /ping contracts) and the real CLI process (`node packages/cli/src/main.ts`, and the bin/ shims).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkWellFormedXml } from './testing/check-xml.ts'
import { fixtureStatus, fixtureStatusB, fixtureTrace } from './testing/fixture-status.ts'

const cliDir = dirname(dirname(fileURLToPath(import.meta.url)))
const main = join(cliDir, 'src', 'main.ts')
const dir = mkdtempSync(join(tmpdir(), 'podlink-cli-'))
const socket = join(dir, 'agent.sock')
let server: Server

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://agent')
    const json = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (url.pathname === '/status') return json(200, fixtureStatus)
    if (url.pathname === '/trace')
      return url.searchParams.get('dst') === '10.96.0.20:80'
        ? json(200, fixtureTrace)
        : json(400, { error: `Cannot trace ${JSON.stringify(url.searchParams.get('dst'))} as it is not an IP address` })
    if (url.pathname === '/ping') {
      if (url.searchParams.get('node') !== 'edge-b1') return json(404, { error: 'no peer edge-zz' })
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      const count = Number(url.searchParams.get('count'))
      // Written in pieces that split lines, as a real stream may: the client must reassemble them.
      const lines = [
        ...Array.from({ length: count }, (_, i) => ({
          type: 'reply',
          seq: i + 1,
          node: 'edge-b1',
          peerId: fixtureStatus.peers[1]!.peerId,
          path: 'direct',
          relay: null,
          addr: '203.0.113.10:4001',
          rttMs: 20 + i,
        })),
        {
          type: 'summary',
          node: 'edge-b1',
          sent: count,
          received: count,
          minMs: 20,
          avgMs: 20 + (count - 1) / 2,
          maxMs: 19 + count,
        },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n')
      res.write(lines.slice(0, 30))
      setTimeout(() => res.end(`${lines.slice(30)}\n`), 20)
      return
    }
    json(404, { error: 'no such endpoint' })
  })
  await new Promise<void>((resolve) => server.listen(socket, resolve))
})

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
  rmSync(dir, { recursive: true, force: true })
})

function run(
  argv: readonly string[],
  opts: { socket?: string; bin?: string } = {},
): Promise<{ code: number; out: string; err: string }> {
  const [cmd, args] = opts.bin ? [join(cliDir, 'bin', opts.bin), argv] : [process.execPath, [main, ...argv]]
  const child = spawn(cmd, args, {
    env: { ...process.env, PODLINK_AGENT_SOCKET: opts.socket ?? socket, PODLINK_NODE: process.execPath, NO_COLOR: '1' },
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => {
    out += d
  })
  child.stderr.on('data', (d) => {
    err += d
  })
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, out, err })))
}

describe('podlink against a stand-in agent', () => {
  it('peers prints the table from the socket and exits 1 (edge-c2 has no path)', async () => {
    const r = await run(['peers'])
    expect(r.err).toBe('')
    expect(r.code).toBe(1)
    const lines = r.out.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^NODE\s+LAN\s+PEER\s+PATH\s+ADDRESS\s+RTT\s+TX\s+RX\s+FLOWS\s+FAST\s+SINCE\s+REASON$/)
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([
      'edge-a2',
      'edge-b1',
      'edge-b2',
      'edge-c1',
      'edge-c2',
    ])
    expect(r.out).toMatch(/edge-c1 .*relay via edge-b1 .*symmetric NAT at edge-c1/)
    expect(r.out).not.toContain('\x1b[')
  })

  it('peers --json prints the peers array as served', async () => {
    const r = await run(['peers', '--json'])
    expect(JSON.parse(r.out)).toEqual(fixtureStatus.peers)
  })

  it('exits 3 with a clear message when no agent answers', async () => {
    const r = await run(['status'], { socket: join(dir, 'missing.sock') })
    expect(r.code).toBe(3)
    expect(r.err).toMatch(/Cannot reach the podlink agent at .*missing\.sock \(ENOENT\): is podlink-agent running/)
  })

  it('ping streams NDJSON replies into ping-like lines', async () => {
    const r = await run(['ping', 'edge-b1', '--count', '3'])
    expect(r.code).toBe(0)
    expect(r.out).toContain('reply from edge-b1 (B1cccc…ccc1): seq=3 path=direct addr=203.0.113.10:4001 time=22.0 ms')
    expect(r.out).toContain('3 probes sent, 3 received, 0% loss')
    const unknown = await run(['ping', 'edge-zz'])
    expect(unknown.code).toBe(1)
    expect(unknown.err).toContain('Cannot ping edge-zz as the agent answered 404: no peer edge-zz')
  })

  it('trace renders the answer; a destination the agent rejects is a usage error', async () => {
    const ok = await run(['trace', '10.96.0.20:80'])
    expect(ok.code).toBe(0)
    expect(ok.out).toContain('captured by redirect to port 15001')
    const bad = await run(['trace', 'web'])
    expect(bad.code).toBe(2)
    expect(bad.err).toContain('as it is not an IP address')
  })

  it('graph --format svg combines several --json files into one well-formed SVG', async () => {
    const a = join(dir, 'a.json')
    const b = join(dir, 'b.json')
    writeFileSync(a, JSON.stringify(fixtureStatus))
    writeFileSync(b, JSON.stringify(fixtureStatusB))
    for (const extra of [[], ['--builtin']]) {
      const r = await run(['graph', '--format', 'svg', '--from', a, b, ...extra])
      expect(r.code).toBe(0)
      checkWellFormedXml(r.out)
      const text = r.out.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
      for (const n of ['edge-a1', 'edge-a2', 'edge-b1', 'edge-b2', 'edge-c1', 'edge-c2']) expect(text).toContain(n)
    }
  })

  it.each(['podlink', 'kubectl-podlink'])('the %s shim runs the CLI with its arguments', async (bin) => {
    const r = await run(['routes'], { bin })
    expect(r.code).toBe(1)
    expect(r.out).toContain('10.244.6.0/24       conflict  edge-c2')
  })
})
