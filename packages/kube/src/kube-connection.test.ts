import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Watch } from '@kubernetes/client-node'
import { KEEPALIVE_IDLE_MS } from '@podlink/core'
import { keepaliveTimersMs } from '@podlink/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { connectKube, kubeConfigOf } from './kube-connection.ts'

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
      // The first probe within KEEPALIVE_IDLE_MS of the last data.
      await expect.poll(() => keepaliveTimersMs(`( dst 127.0.0.1:${port} )`)).toHaveLength(1)
      const [ms] = keepaliveTimersMs(`( dst 127.0.0.1:${port} )`)
      expect(ms).toBeGreaterThan(0)
      expect(ms).toBeLessThanOrEqual(KEEPALIVE_IDLE_MS)
    } finally {
      watch.abort()
    }
  })
})
