import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Watch } from '@kubernetes/client-node'
import { afterEach, describe, expect, it } from 'vitest'
import { API_KEEPALIVE_MS, connectKube, kubeConfigOf } from './kube-connection.ts'

let server: Server | undefined
let dir: string | undefined
const held: ServerResponse[] = []

afterEach(async () => {
  for (const r of held.splice(0)) r.destroy()
  await new Promise((r) => (server ? server.close(r) : r(undefined)))
  server = undefined
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('connectKube', () => {
  // A NAT router that forgets its mappings leaves a watch dead on the agent's end only: the kernel finds out by
  // keepalive probes (ss shows the socket's keepalive timer), not after client-node's 30 s without data.
  it('keeps API connections alive by TCP probes after 5 s idle, on plain http too', async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.flushHeaders()
      held.push(res)
    })
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
    const port = (server.address() as AddressInfo).port
    dir = await mkdtemp(join(tmpdir(), 'podlink-kube-'))
    const file = join(dir, 'kubeconfig')
    await writeFile(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'u', user: {} }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    )
    const kc = kubeConfigOf(connectKube({ mode: 'kubeconfig', path: file }))
    const watch = await new Watch(kc).watch(
      '/api/v1/nodes',
      {},
      () => {},
      () => {},
    )
    try {
      let line = ''
      for (let i = 0; i < 50 && !line.includes('keepalive'); i++) {
        await new Promise((r) => setTimeout(r, 20))
        line = execFileSync('ss', ['-tno', 'state', 'established', 'dst', `127.0.0.1:${port}`], { encoding: 'utf8' })
      }
      // e.g. timer:(keepalive,4.9sec,0): the first probe within API_KEEPALIVE_MS of the last data.
      const timer = /timer:\(keepalive,([\d.]+)(ms|sec)/.exec(line)
      expect(timer, line).not.toBeNull()
      const ms = Number(timer![1]) * (timer![2] === 'sec' ? 1000 : 1)
      expect(ms).toBeGreaterThan(0)
      expect(ms).toBeLessThanOrEqual(API_KEEPALIVE_MS)
    } finally {
      watch.abort()
    }
  })
})
