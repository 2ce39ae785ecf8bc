import { readFileSync } from 'node:fs'
import { isIPv6 } from 'node:net'
import { join } from 'node:path'
import { type DispatcherOptions, KubeConfig } from '@kubernetes/client-node'
import { KEEPALIVE_IDLE_MS, PodlinkError } from '@podlink/core'

/** Where the Kubernetes API is. */
export type KubeConnectionOptions =
  | {
      readonly mode: 'in-cluster'
      /** Token, CA and namespace files. Default `/var/run/secrets/kubernetes.io/serviceaccount`. */
      readonly serviceAccountDir?: string
      /** Where `KUBERNETES_SERVICE_HOST`/`_PORT` are read. Default `process.env`. */
      readonly env?: Readonly<Record<string, string | undefined>>
    }
  | { readonly mode: 'kubeconfig'; readonly path: string; readonly context?: string }
  /** A KubeEdge MetaServer on the node (e.g. http://127.0.0.1:10550): list/watch, no auth. */
  | { readonly mode: 'metaserver'; readonly url: string }

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

/**
 * An opened connection description. Opaque on purpose: the agent passes it from `connectKube`
 * to the watcher, annotator and recorder and never sees @kubernetes/client-node.
 */
export interface KubeConnection {
  readonly mode: KubeConnectionOptions['mode']
  /** The API's base URL, for logs and status. */
  readonly server: string
}

const configs = new WeakMap<KubeConnection, KubeConfig>()

/** Internal: the client-node configuration behind a connection. */
export function kubeConfigOf(connection: KubeConnection): KubeConfig {
  const kc = configs.get(connection)
  if (kc === undefined)
    throw new PodlinkError('kube-connection', 'Cannot use the connection as connectKube did not make it')
  return kc
}

/**
 * Builds the client configuration. Reads files (kubeconfig, service-account CA) but opens no
 * socket; an unreachable API shows up later, in the watches. Throws PodlinkError
 * `kube-connection` when the configuration itself is unusable.
 */
export function connectKube(options: KubeConnectionOptions): KubeConnection {
  const kc = new KubeConfig()
  try {
    if (options.mode === 'kubeconfig') {
      kc.loadFromFile(options.path)
      if (options.context !== undefined) kc.setCurrentContext(options.context)
    } else if (options.mode === 'in-cluster') {
      loadInCluster(kc, options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR, options.env ?? process.env)
    } else {
      const url = new URL(options.url)
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${url.protocol} is not http(s)`)
      // client-node refuses http:// unless skipTLSVerify is set; there is no TLS to verify then.
      kc.loadFromClusterAndUser(
        { name: 'metaserver', server: url.origin, skipTLSVerify: url.protocol === 'http:' },
        { name: 'metaserver-anonymous' },
      )
    }
  } catch (err) {
    if (err instanceof PodlinkError) throw err
    throw new PodlinkError(
      'kube-connection',
      `Cannot configure the ${options.mode} connection as ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  }
  const server = kc.getCurrentCluster()?.server
  if (server === undefined) {
    throw new PodlinkError('kube-connection', `Cannot configure the ${options.mode} connection as it names no cluster`)
  }
  keepAliveQuickly(kc)
  const connection: KubeConnection = { mode: options.mode, server }
  configs.set(connection, kc)
  return connection
}

/**
 * As client-node's loadFromCluster, with the directory and environment injectable. The token is
 * read through client-node's `tokenFile` provider, which rereads it every minute: projected
 * service-account tokens rotate.
 */
function loadInCluster(kc: KubeConfig, dir: string, env: Readonly<Record<string, string | undefined>>): void {
  const host = env['KUBERNETES_SERVICE_HOST']
  const port = env['KUBERNETES_SERVICE_PORT']
  if (host === undefined || host === '' || port === undefined || port === '') {
    throw new PodlinkError(
      'kube-connection',
      'Cannot connect in-cluster as KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is unset',
    )
  }
  const tokenFile = join(dir, 'token')
  const caFile = join(dir, 'ca.crt')
  // Fail now, with a clear message, rather than on the first request.
  readFileSync(tokenFile)
  readFileSync(caFile)
  const hostPart = isIPv6(host) ? `[${host}]` : host
  kc.loadFromClusterAndUser(
    { name: 'in-cluster', server: `https://${hostPart}:${port}`, caFile, skipTLSVerify: false },
    { name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile } } },
  )
}

/** API connections probe after KEEPALIVE_IDLE_MS idle: a watch a NAT flush cut on the API's side only is found. */
function keepAliveQuickly(kc: KubeConfig): void {
  const options = kc.createDispatcherOptions.bind(kc)
  const keep = { keepAlive: true, keepAliveInitialDelay: KEEPALIVE_IDLE_MS }
  kc.createDispatcherOptions = (cluster, agentOptions): DispatcherOptions => {
    const o = options(cluster, agentOptions)
    // Plain http (a KubeEdge MetaServer, the lab's API stand-in) gets no dispatcher of client-node's own: one like
    // the https one, without TLS options, only for the keepalive.
    if (o.type === 'none') return { type: 'agent', connect: keep }
    if (o.type === 'agent' || o.type === 'proxy') return { ...o, connect: { ...o.connect, ...keep } }
    return o
  }
}
