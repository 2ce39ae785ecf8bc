/**
 * Driven by the real kubectl binary (1.32 here; Debian's 1.20 passes too, via KUBECTL=...) with a kubeconfig from writeKubeconfig: what an operator
 * types in the lab (`pnpm lab kubectl -- ...`) must work without `--validate=false`.
 */
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ApiServerFixture, startApiServerFixture } from './api-server-fixture.ts'
import { NODES, SERVICES } from './resource-types.ts'

const run = promisify(execFile)
/** The binary under test: `kubectl` on PATH, or e.g. Debian's 1.20 with KUBECTL=/path/to/kubectl. */
const KUBECTL = process.env['KUBECTL'] ?? 'kubectl'
let fx: ApiServerFixture

beforeAll(async () => {
  fx = await startApiServerFixture()
  fx.server.store.create(NODES, {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'edge1-a', labels: { 'node-role.kubernetes.io/edge': '' } },
    spec: { podCIDR: '10.244.1.0/24' },
    status: {
      conditions: [{ type: 'Ready', status: 'True' }],
      addresses: [{ type: 'InternalIP', address: '192.168.1.10' }],
      nodeInfo: {
        kubeletVersion: 'v1.32.0',
        osImage: 'Debian GNU/Linux 12',
        kernelVersion: '6.1.0',
        containerRuntimeVersion: 'containerd://1.7.0',
      },
    },
  })
})
afterAll(async () => fx.dispose())

async function kubectl(...args: string[]): Promise<string> {
  // A private cache dir: kubectl caches discovery per server URL, and ports are reused across runs.
  const env = { ...process.env, KUBECONFIG: fx.kubeconfig, HOME: fx.dir, KUBECACHEDIR: join(fx.dir, 'cache') }
  const { stdout } = await run(KUBECTL, args, { env })
  return stdout
}

function serviceYaml(port: number): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  selector: { app: web }
  ports:
    - { name: http, port: ${port}, targetPort: 8080, protocol: TCP }
`
}

describe('kubectl', () => {
  it('get nodes -o wide prints the wide columns', async () => {
    const out = await kubectl('get', 'nodes', '-o', 'wide')
    const [header, row] = out.trim().split('\n')
    expect(header?.split(/\s{2,}/)).toEqual([
      'NAME',
      'STATUS',
      'ROLES',
      'AGE',
      'VERSION',
      'INTERNAL-IP',
      'EXTERNAL-IP',
      'OS-IMAGE',
      'KERNEL-VERSION',
      'CONTAINER-RUNTIME',
    ])
    expect(row).toMatch(
      /^edge1-a\s+Ready\s+edge\s+\d+s\s+v1\.32\.0\s+192\.168\.1\.10\s+<none>\s+Debian GNU\/Linux 12\s+6\.1\.0\s+containerd:\/\/1\.7\.0$/,
    )
  })

  it('applies a Service, then applies a change to it', async () => {
    const file = join(fx.dir, 'service.yaml')
    await writeFile(file, serviceYaml(80))
    expect(await kubectl('apply', '-f', file)).toBe('service/web created\n')
    const created = fx.server.store.get(SERVICES, 'default', 'web')!
    await writeFile(file, serviceYaml(8080))
    expect(await kubectl('apply', '-f', file)).toBe('service/web configured\n')
    expect(await kubectl('apply', '-f', file)).toBe('service/web unchanged\n')
    const updated = fx.server.store.get(SERVICES, 'default', 'web')!
    expect(updated.metadata.uid).toBe(created.metadata.uid)
    expect((updated['spec'] as { ports: unknown }).ports).toEqual([
      { name: 'http', port: 8080, targetPort: 8080, protocol: 'TCP' },
    ])
    expect((updated['spec'] as { clusterIP: string }).clusterIP).toBe(
      (created['spec'] as { clusterIP: string }).clusterIP,
    )

    const table = await kubectl('get', 'svc', '-o', 'wide')
    expect(table).toMatch(/^web\s+ClusterIP\s+10\.96\.\d+\.\d+\s+<none>\s+8080\/TCP\s+\d+s\s+app=web$/m)
    expect(await kubectl('get', 'pods', '-A')).toBe('')
  })

  it('annotates and labels a node', async () => {
    expect(await kubectl('annotate', 'node', 'edge1-a', 'podlink.io/peer-id=12D3KooWExample')).toBe(
      'node/edge1-a annotated\n',
    )
    expect(await kubectl('label', 'node', 'edge1-a', 'podlink.io/lan=site-1')).toBe('node/edge1-a labeled\n')
    const node = fx.server.store.get(NODES, undefined, 'edge1-a')!
    expect(node.metadata.annotations).toEqual({ 'podlink.io/peer-id': '12D3KooWExample' })
    expect(node.metadata.labels).toEqual({ 'node-role.kubernetes.io/edge': '', 'podlink.io/lan': 'site-1' })
    // kubectl 1.20 says `labeled` for a removal too; the store is the judge.
    expect(await kubectl('label', 'node', 'edge1-a', 'podlink.io/lan-')).toMatch(/^node\/edge1-a (un)?labeled\n$/)
    expect(fx.server.store.get(NODES, undefined, 'edge1-a')!.metadata.labels).toEqual({
      'node-role.kubernetes.io/edge': '',
    })
    expect(await kubectl('get', 'no', '-l', 'node-role.kubernetes.io/edge', '-o', 'name')).toBe('node/edge1-a\n')
  })

  it('deletes a service', async () => {
    expect(await kubectl('delete', 'service', 'web')).toBe('service "web" deleted\n')
    expect(fx.server.store.get(SERVICES, 'default', 'web')).toBeUndefined()
    await expect(kubectl('get', 'svc', 'web')).rejects.toThrow(/services "web" not found/)
  })
})
