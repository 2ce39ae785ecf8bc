/** The API stand-in as a lab process: PKI, tokens and kubeconfigs once, then start/stop with state kept. */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { makeLabPki, writeKubeconfig } from '../apiserver/index.ts'
import type { Topology } from '../topology/topology.ts'
import { daemonPid, startDaemon, stopDaemon, waitForLog } from './daemons.ts'
import { API_HOST, hostNs, stateDir } from './names.ts'
import { NODE_BIN, repoPath } from './paths.ts'
import { seedObjects } from './seed-objects.ts'

export const ADMIN_USER = 'admin'
export const kubeconfigPath = (lab: string, user: string): string => `${stateDir(lab)}/kube/${user}.kubeconfig`
const configPath = (lab: string): string => `${stateDir(lab)}/apiserver/config.json`

/** Each node's agent authenticates as `system:node:<name>`, with a token of its own. */
export const nodeUser = (node: string): string => `system:node:${node}`

export async function startLabApiServer(t: Topology): Promise<void> {
  const dir = `${stateDir(t.name)}/apiserver`
  if (!existsSync(configPath(t.name))) {
    mkdirSync(dir, { recursive: true })
    mkdirSync(`${stateDir(t.name)}/kube`, { recursive: true })
    const pki = await makeLabPki(`${stateDir(t.name)}/pki`, {
      ips: [t.apiServer.ip, '127.0.0.1'],
      names: ['apiserver', 'localhost'],
    })
    const tokens: Record<string, string> = {}
    const server = `https://${t.apiServer.ip}:${t.apiServer.port}`
    for (const user of [ADMIN_USER, ...t.nodes.map((n) => n.name)]) {
      const token = randomBytes(24).toString('hex')
      const username = user === ADMIN_USER ? ADMIN_USER : nodeUser(user)
      tokens[token] = username
      await writeKubeconfig(kubeconfigPath(t.name, user), { server, caPem: pki.caPem, token, user: username })
    }
    writeFileSync(`${dir}/seed.json`, `${JSON.stringify(seedObjects(t), null, 2)}\n`)
    const config = {
      listen: { host: t.apiServer.ip, port: t.apiServer.port },
      certFile: pki.certFile,
      keyFile: pki.keyFile,
      tokens,
      stateFile: `${dir}/state.json`,
      seedFile: `${dir}/seed.json`,
    }
    writeFileSync(configPath(t.name), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 })
  }
  if (daemonPid(t.name, 'apiserver') !== null) return
  startDaemon({
    lab: t.name,
    label: 'apiserver',
    ns: hostNs(t.name, API_HOST),
    argv: [NODE_BIN, repoPath('packages/testlab/src/apiserver/main.ts'), '--config', configPath(t.name)],
  })
  await waitForLog(t.name, 'apiserver', /apiserver listening on/g, 15_000)
}

export async function stopLabApiServer(lab: string): Promise<boolean> {
  return stopDaemon(lab, 'apiserver', 'SIGTERM', 5000)
}

/** The CA the lab's kubeconfigs trust, for clients that need it apart. */
export function labCaPem(lab: string): string {
  return readFileSync(`${stateDir(lab)}/pki/ca.crt`, 'utf8')
}
