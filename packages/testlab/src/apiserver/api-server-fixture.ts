import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ApiServerOptions, type RunningApiServer, startApiServer } from './api-server.ts'
import { writeKubeconfig } from './kubeconfig.ts'
import { type LabPki, makeLabPki } from './lab-pki.ts'

/** Tokens the fixture's server accepts. */
export const ADMIN_TOKEN = 'admin-token-0123456789'
export const NODE_TOKEN = 'node-token-a-0123456789'

export interface ApiServerFixture {
  dir: string
  pki: LabPki
  server: RunningApiServer
  /** A kubeconfig for the admin user. */
  kubeconfig: string
  /** Starts (again) a server on the same state file and PKI; the previous one must be closed. */
  restart(extra?: Partial<ApiServerOptions>): Promise<RunningApiServer>
  dispose(): Promise<void>
}

/** A server on 127.0.0.1 port 0 with a fresh PKI and state file in a temporary directory, for tests. */
export async function startApiServerFixture(extra: Partial<ApiServerOptions> = {}): Promise<ApiServerFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'podlink-apiserver-'))
  const pki = await makeLabPki(join(dir, 'pki'), { ips: ['127.0.0.1'] })
  const start = (more: Partial<ApiServerOptions>) =>
    startApiServer({
      host: '127.0.0.1',
      port: 0,
      certFile: pki.certFile,
      keyFile: pki.keyFile,
      tokens: { [ADMIN_TOKEN]: 'admin', [NODE_TOKEN]: 'system:node:a' },
      stateFile: join(dir, 'state.json'),
      ...more,
    })
  const fixture: ApiServerFixture = {
    dir,
    pki,
    server: await start(extra),
    kubeconfig: join(dir, 'kubeconfig'),
    restart: async (more = {}) => {
      fixture.server = await start({ ...extra, ...more })
      await writeKubeconfig(fixture.kubeconfig, {
        server: fixture.server.url,
        caPem: pki.caPem,
        token: ADMIN_TOKEN,
        user: 'admin',
      })
      return fixture.server
    },
    dispose: async () => {
      await fixture.server.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
  await writeKubeconfig(fixture.kubeconfig, {
    server: fixture.server.url,
    caPem: pki.caPem,
    token: ADMIN_TOKEN,
    user: 'admin',
  })
  return fixture
}
