/**
 * The Helm chart's values: their types, defaults (which are also what the plain manifests in deploy/
 * are built with) and the comment each gets in values.yaml. A value either feeds an agent option (the
 * map `CONFIG_FROM_VALUES`, checked against the agent's schema by a test) or a field of an object.
 */

export interface Toleration {
  readonly key?: string
  readonly operator: 'Exists' | 'Equal'
  readonly value?: string
  readonly effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute'
}

export interface DeployValues {
  readonly image: { readonly repository: string; readonly tag: string; readonly pullPolicy: string }
  readonly logLevel: string
  readonly metrics: { readonly port: number }
  readonly mesh: {
    readonly listenPort: number
    readonly fastPort: number
    readonly fastRelayPort: number
    readonly relay: string
    readonly publicRanges: string
  }
  readonly kube: { readonly mode: string; readonly kubeProxy: boolean; readonly metaServerUrl: string }
  readonly kubeEdge: { readonly enabled: boolean; readonly kubeProxy: boolean }
  readonly psk: { readonly secretName: string; readonly create: boolean; readonly key: string }
  readonly kernelModules: { readonly load: boolean }
  readonly priorityClassName: string
  readonly resources: {
    readonly requests: { readonly cpu: string; readonly memory: string }
    readonly limits: { readonly memory: string }
  }
  readonly tolerations: readonly Toleration[]
  readonly nodeSelector: Readonly<Record<string, string>>
}

/** The agent image; the tag follows the agent's version (packages/agent AGENT_VERSION). */
export const IMAGE_REPOSITORY = 'ghcr.io/podlink/podlink-agent'

export const DEFAULT_VALUES: DeployValues = {
  image: { repository: IMAGE_REPOSITORY, tag: '0.1.0', pullPolicy: 'IfNotPresent' },
  logLevel: 'info',
  metrics: { port: 9464 },
  mesh: { listenPort: 4001, fastPort: 4004, fastRelayPort: 4005, relay: 'auto', publicRanges: '' },
  kube: { mode: 'in-cluster', kubeProxy: true, metaServerUrl: 'http://127.0.0.1:10550' },
  kubeEdge: { enabled: false, kubeProxy: false },
  psk: { secretName: 'podlink-psk', create: false, key: '' },
  kernelModules: { load: true },
  priorityClassName: 'system-node-critical',
  // Measured in the lab: an agent's RSS is 215-223 MiB on a 4-node cluster with light traffic (Node 24 +
  // libp2p); the request reserves that plus headroom, and the memory limit only stops a leak from taking
  // the node. Figures under load (1,000 peers, 10,000 flows) belong to the benchmark issue. No CPU limit: CFS throttling of the process that forwards every captured flow
  // would add latency to all of them, and the request already gives it its fair share under contention.
  resources: { requests: { cpu: '50m', memory: '256Mi' }, limits: { memory: '768Mi' } },
  tolerations: [
    { key: 'node-role.kubernetes.io/edge', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node-role.kubernetes.io/master', operator: 'Exists', effect: 'NoSchedule' },
  ],
  nodeSelector: { 'kubernetes.io/os': 'linux' },
}

/** values.yaml comments, by dotted path. A test checks that every leaf of DEFAULT_VALUES has one. */
export const VALUES_DOC: Readonly<Record<string, string>> = {
  image: 'The agent image (deploy/Dockerfile).',
  'image.repository': 'Registry and name.',
  'image.tag': 'Exact tag; pin a digest in production if your registry supports it.',
  'image.pullPolicy': 'IfNotPresent for pinned tags.',
  logLevel: 'log.level of the agent: debug, info, warn or error.',
  metrics: 'The /metrics, /healthz, /readyz listener (on the node: hostNetwork).',
  'metrics.port': 'metrics.port of the agent; also the probes port.',
  mesh: 'The libp2p mesh.',
  'mesh.listenPort': 'mesh.listenPort: TCP port on every node; open it between sites (public nodes at least).',
  'mesh.fastPort':
    'mesh.fastPort: TCP port of the fast channel (TLS per flow to peers dialled directly); open it where\n' +
    'mesh.listenPort is open. Not listenPort + 1 or + 2 (NAT observation on public nodes).',
  'mesh.fastRelayPort':
    'mesh.fastRelayPort: TCP port on relay nodes where the two legs of a relayed fast-channel socket meet; open it\n' +
    'on relay nodes as mesh.listenPort is.',
  'mesh.relay':
    'mesh.relay: auto runs a relay on Nodes labelled podlink.io/relay=true. Label public nodes with\n' +
    '`kubectl label node NAME podlink.io/relay=true`; a DaemonSet cannot choose them for you.',
  'mesh.publicRanges': 'mesh.publicRanges: comma-separated CIDRs to treat as public (empty: none).',
  kube: 'How agents reach the Kubernetes API (kube.*).',
  'kube.mode': 'in-cluster, kubeconfig or metaserver (every node is a KubeEdge edge node).',
  'kube.kubeProxy': 'kube.kubeProxy: false when no kube-proxy runs on the nodes (podlink then handles all ClusterIPs).',
  'kube.metaServerUrl': "KubeEdge MetaServer URL on the node (edgecore's metaServer.server).",
  kubeEdge: 'Mixed cloud + KubeEdge cluster: a second DaemonSet for edge nodes that reads the API through MetaServer.',
  'kubeEdge.enabled':
    'true: nodes labelled node-role.kubernetes.io/edge get podlink-agent-edge (kube.mode metaserver, no\n' +
    'service-account token); the others keep podlink-agent.',
  'kubeEdge.kubeProxy': 'Whether kube-proxy runs on the edge nodes (KubeEdge usually has none there).',
  psk: "The cluster's pre-shared key (mesh.pskFile), mounted from a Secret.",
  'psk.secretName': 'Secret holding swarm.key; create it yourself (docs/deploy.md) or set create.',
  'psk.create': 'true: the chart creates the Secret from psk.key (the key then lives in your values).',
  'psk.key': '64 hex characters (openssl rand -hex 32); used only when create is true.',
  kernelModules: 'Modules for REDIRECT, conntrack netlink (UDP capture) and ipset.',
  'kernelModules.load':
    'true: an init container with only CAP_SYS_MODULE modprobes them, so the agent itself never holds it.',
  priorityClassName: 'Network agents should not be evicted before the pods that need them.',
  resources:
    'From the lab: agent RSS 215-223 MiB on a small cluster; no CPU limit on purpose (throttling adds latency to every flow).',
  'resources.requests': 'Reserved on every node.',
  'resources.requests.cpu': 'CPU request.',
  'resources.requests.memory': 'Memory request.',
  'resources.limits': 'Only memory: a leak must not take the node.',
  'resources.limits.memory': 'Memory limit.',
  tolerations: 'Run on edge (KubeEdge) and control-plane nodes too: every node needs its agent.',
  nodeSelector: 'Nodes that get an agent.',
}

/** Which agent option each value sets in the ConfigMap (agent option path -> values path). */
export const CONFIG_FROM_VALUES: Readonly<Record<string, string>> = {
  'log.level': 'logLevel',
  'metrics.port': 'metrics.port',
  'mesh.listenPort': 'mesh.listenPort',
  'mesh.fastPort': 'mesh.fastPort',
  'mesh.fastRelayPort': 'mesh.fastRelayPort',
  'mesh.relay': 'mesh.relay',
  'mesh.publicRanges': 'mesh.publicRanges',
  'kube.mode': 'kube.mode',
  'kube.kubeProxy': 'kube.kubeProxy',
  'kube.metaServerUrl': 'kube.metaServerUrl',
}

export function valueAt(values: unknown, path: string): unknown {
  let o: unknown = values
  for (const k of path.split('.')) {
    if (typeof o !== 'object' || o === null || !(k in o)) throw new Error(`Cannot find the value ${path}`)
    o = (o as Record<string, unknown>)[k]
  }
  return o
}
