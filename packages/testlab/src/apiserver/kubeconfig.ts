import { writeFile } from 'node:fs/promises'
import { stringify } from 'yaml'

export interface KubeconfigOptions {
  /** `https://ip:port` of the API server. */
  server: string
  caPem: string
  token: string
  user: string
  /** Cluster and context name. Default `podlink-lab`. */
  cluster?: string
}

/** A kubeconfig with one cluster, user and context, as kubectl and client libraries read it. Mode 0600: it holds a token. */
export function renderKubeconfig(options: KubeconfigOptions): string {
  const cluster = options.cluster ?? 'podlink-lab'
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: cluster,
        cluster: {
          server: options.server,
          'certificate-authority-data': Buffer.from(options.caPem).toString('base64'),
        },
      },
    ],
    users: [{ name: options.user, user: { token: options.token } }],
    contexts: [{ name: `${options.user}@${cluster}`, context: { cluster, user: options.user } }],
    'current-context': `${options.user}@${cluster}`,
    preferences: {},
  })
}

export async function writeKubeconfig(path: string, options: KubeconfigOptions): Promise<void> {
  await writeFile(path, renderKubeconfig(options), { mode: 0o600 })
}
