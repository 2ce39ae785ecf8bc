/**
 * The lab's entry point as the lab runs it: a child process with a JSON config, one ready line on
 * stdout, SIGTERM to stop; the state (seeded at first start) survives stop and start.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ApiServerConfig } from './api-server-config.ts'
import { type LabPki, makeLabPki } from './lab-pki.ts'

// biome-ignore lint/suspicious/noExplicitAny: tests read deep into JSON answers and assert on their shape
type Json = any

const MAIN = join(import.meta.dirname, 'main.ts')
const TOKEN = 'lab-admin-token'
let dir: string
let pki: LabPki
let configFile: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'podlink-apiserver-main-'))
  pki = await makeLabPki(join(dir, 'pki'), { ips: ['127.0.0.1'], names: ['apiserver'] })
  await writeFile(
    join(dir, 'seed.yaml'),
    `apiVersion: v1
kind: Node
metadata: { name: master, labels: { podlink.io/relay: "true" } }
spec: { podCIDR: 10.244.0.0/24 }
---
apiVersion: v1
kind: Pod
metadata: { name: web-1, namespace: apps, labels: { app: web } }
spec: { nodeName: master, containers: [ { name: c, image: none } ] }
status: { phase: Running, podIP: 10.244.0.2, conditions: [ { type: Ready, status: "True" } ] }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: apps }
spec: { clusterIP: 10.96.0.20, selector: { app: web }, ports: [ { name: http, port: 80, targetPort: 8080, protocol: TCP } ] }
`,
  )
  const config: ApiServerConfig = {
    listen: { host: '127.0.0.1', port: 0 },
    certFile: pki.certFile,
    keyFile: pki.keyFile,
    tokens: { [TOKEN]: 'admin' },
    stateFile: join(dir, 'state.json'),
    seedFile: join(dir, 'seed.yaml'),
    serviceCIDR: '10.96.0.0/16',
  }
  configFile = join(dir, 'config.json')
  await writeFile(configFile, JSON.stringify(config))
})
afterAll(async () => rm(dir, { recursive: true, force: true }))

async function start(): Promise<{ child: ChildProcessWithoutNullStreams; url: string }> {
  const child = spawn(process.execPath, [MAIN, '--config', configFile], { stdio: 'pipe' })
  const [line] = (await once(createInterface(child.stdout), 'line')) as [string]
  const match = /^apiserver listening on (https:\/\/127\.0\.0\.1:\d+)$/.exec(line)
  if (match === null) throw new Error(`unexpected first line: ${line}`)
  return { child, url: match[1]! }
}

async function stop(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  child.kill('SIGTERM')
  const [code] = (await once(child, 'exit')) as [number | null]
  return code
}

function call(url: string, method: string, path: string): Promise<{ status: number; body: Json }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      { method, ca: pki.caPem, headers: { Authorization: `Bearer ${TOKEN}` } },
      (res) => {
        let text = ''
        res.on('data', (c: Buffer) => {
          text += c.toString()
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

describe('main.ts', () => {
  it('seeds at first start, keeps state across SIGTERM and restart, and does not seed again', async () => {
    const first = await start()
    const slices = await call(first.url, 'GET', '/apis/discovery.k8s.io/v1/namespaces/apps/endpointslices')
    expect(slices.body.items).toHaveLength(1)
    expect(slices.body.items[0].endpoints[0].addresses).toEqual(['10.244.0.2'])
    expect(slices.body.items[0].ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }])
    expect((await call(first.url, 'DELETE', '/api/v1/namespaces/apps/pods/web-1')).status).toBe(200)
    const rv = (await call(first.url, 'GET', '/api/v1/nodes')).body.metadata.resourceVersion
    expect(await stop(first.child)).toBe(0)
    const saved = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8'))
    expect(saved.resourceVersion).toBe(Number(rv))

    const second = await start()
    const nodes = await call(second.url, 'GET', '/api/v1/nodes')
    expect(nodes.body.items.map((n: { metadata: { name: string } }) => n.metadata.name)).toEqual(['master'])
    expect(nodes.body.metadata.resourceVersion).toBe(rv)
    expect((await call(second.url, 'GET', '/api/v1/namespaces/apps/pods/web-1')).status).toBe(404)
    const svc = await call(second.url, 'GET', '/api/v1/namespaces/apps/services/web')
    expect(svc.body.spec.clusterIP).toBe('10.96.0.20')
    expect(await stop(second.child)).toBe(0)
  })

  it('exits 1 naming the field of a bad config', async () => {
    const bad = join(dir, 'bad.json')
    await writeFile(bad, JSON.stringify({ listen: { host: '127.0.0.1', port: 'x' } }))
    const child = spawn(process.execPath, [MAIN, '--config', bad], { stdio: 'pipe' })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
    })
    const [code] = (await once(child, 'exit')) as [number | null]
    expect(code).toBe(1)
    expect(stderr).toContain('listen.port: must be a port number')
  })
})
