/**
 * Every option of podlink-agent, as data: its path in the YAML file, type, default, the flag and
 * environment variable that set it, and what it means. Validation, `--help`, the ConfigMap's
 * documented defaults and the test that checks the manifests all read this one table, so a renamed
 * option breaks the build, not the cluster.
 */

export type OptionType =
  | { readonly kind: 'string'; readonly pattern?: RegExp; readonly patternDoc?: string }
  | { readonly kind: 'int'; readonly min: number; readonly max: number }
  | { readonly kind: 'bool' }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'cidrs' }
  | { readonly kind: 'strings' }

export interface OptionSpec {
  /** Dotted path in the config file, e.g. `mesh.listenPort`. */
  readonly path: string
  readonly type: OptionType
  readonly default: string | number | boolean | readonly string[] | null
  readonly flag: string
  readonly env: string
  readonly doc: string
}

const str = (pattern?: RegExp, patternDoc?: string): OptionType =>
  pattern ? { kind: 'string', pattern, ...(patternDoc ? { patternDoc } : {}) } : { kind: 'string' }
const int = (min: number, max: number): OptionType => ({ kind: 'int', min, max })
const port = int(1, 65535)
const mark = int(1, 0x7fffffff)

export const CONFIG_SCHEMA: readonly OptionSpec[] = [
  {
    path: 'nodeName',
    type: str(/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/, 'a Node name'),
    default: null,
    flag: '--node-name',
    env: 'NODE_NAME',
    doc: "This node's name as in the Kubernetes API (the DaemonSet sets it from spec.nodeName).",
  },
  {
    path: 'stateDir',
    type: str(),
    default: '/var/lib/podlink',
    flag: '--state-dir',
    env: 'PODLINK_STATE_DIR',
    doc: 'Where the agent keeps its identity key (0600) and the last known cluster view.',
  },
  {
    path: 'statusSocket',
    type: str(),
    default: '/run/podlink/agent.sock',
    flag: '--status-socket',
    env: 'PODLINK_STATUS_SOCKET',
    doc: 'Unix socket serving AgentStatus to `podlink` on this node.',
  },
  {
    path: 'kube.mode',
    type: { kind: 'enum', values: ['in-cluster', 'kubeconfig', 'metaserver'] },
    default: 'in-cluster',
    flag: '--kube-mode',
    env: 'PODLINK_KUBE_MODE',
    doc: "How to reach the API: in-cluster service account, a kubeconfig file, or KubeEdge's MetaServer on the node.",
  },
  {
    path: 'kube.kubeconfig',
    type: str(),
    default: null,
    flag: '--kubeconfig',
    env: 'KUBECONFIG',
    doc: 'Path of the kubeconfig (kube.mode kubeconfig).',
  },
  {
    path: 'kube.metaServerUrl',
    type: str(/^https?:\/\/\S+$/, 'an http(s) URL'),
    default: 'http://127.0.0.1:10550',
    flag: '--metaserver-url',
    env: 'PODLINK_METASERVER_URL',
    doc: 'KubeEdge MetaServer URL (kube.mode metaserver).',
  },
  {
    path: 'kube.kubeProxy',
    type: { kind: 'bool' },
    default: true,
    flag: '--kube-proxy',
    env: 'PODLINK_KUBE_PROXY',
    doc: 'Whether kube-proxy runs on this node: ClusterIPs with only same-LAN endpoints are then left to it.',
  },
  {
    path: 'mesh.listenPort',
    type: port,
    default: 4001,
    flag: '--mesh-port',
    env: 'PODLINK_MESH_PORT',
    doc: 'TCP port of the libp2p listener, also the source port of hole punches.',
  },
  {
    path: 'mesh.fastPath',
    type: { kind: 'bool' },
    default: true,
    flag: '--fast-path',
    env: 'PODLINK_FAST_PATH',
    doc: 'Carry TCP flows to directly dialable peers on their own TLS connections (the fast channel) instead of libp2p streams.',
  },
  {
    path: 'mesh.fastPort',
    type: port,
    default: 4004,
    flag: '--fast-port',
    env: 'PODLINK_FAST_PORT',
    doc: 'TCP port of the fast-channel listener (published on the Node as podlink.io/fast-port). Not mesh.listenPort + 1 or + 2: public nodes listen there for NAT observation.',
  },
  {
    path: 'mesh.fastRelayPort',
    type: port,
    default: 4005,
    flag: '--fast-relay-port',
    env: 'PODLINK_FAST_RELAY_PORT',
    doc: "TCP port on relay nodes where the two legs of a relayed fast-channel socket meet (plain TCP, joined by a one-time token; the fast channel's TLS runs end to end over them).",
  },
  {
    path: 'mesh.fastPunchPorts',
    type: str(),
    default: '4100-4227',
    flag: '--fast-punch-ports',
    env: 'PODLINK_FAST_PUNCH_PORTS',
    doc: 'Local ports (FIRST-LAST) for fast-channel sockets punched through NAT to punched peers; each socket holds one for its life plus 65 s (TIME_WAIT), about 10 per punched peer in use. off: flows to punched peers stay on libp2p.',
  },
  {
    path: 'mesh.pskFile',
    type: str(),
    default: '/etc/podlink/psk/swarm.key',
    flag: '--psk-file',
    env: 'PODLINK_PSK_FILE',
    doc: "The cluster's pre-shared key (libp2p swarm.key format), mounted from a Secret.",
  },
  {
    path: 'mesh.pskMode',
    type: { kind: 'enum', values: ['proof', 'pnet'] },
    default: 'proof',
    flag: '--psk-mode',
    env: 'PODLINK_PSK_MODE',
    doc: 'proof: PSK possession proven once per connection; pnet: libp2p private network (XSalsa20 on every byte, slower).',
  },
  {
    path: 'mesh.encrypter',
    type: { kind: 'enum', values: ['tls', 'noise'] },
    default: 'tls',
    flag: '--encrypter',
    env: 'PODLINK_ENCRYPTER',
    doc: 'Preferred libp2p connection encrypter; the other is offered as a fallback.',
  },
  {
    path: 'mesh.publicRanges',
    type: { kind: 'cidrs' },
    default: [],
    flag: '--public-ranges',
    env: 'PODLINK_PUBLIC_RANGES',
    doc: 'Extra ranges treated as public addresses (libp2p calls 100.64/10, 198.18/15, 203.0.113/24 private).',
  },
  {
    path: 'mesh.relay',
    type: { kind: 'enum', values: ['auto', 'always', 'never'] },
    default: 'auto',
    flag: '--relay',
    env: 'PODLINK_RELAY',
    doc: 'Run a circuit relay: auto = when the Node is labelled podlink.io/relay=true.',
  },
  {
    path: 'dataplane.enabled',
    type: { kind: 'bool' },
    default: true,
    flag: '--dataplane',
    env: 'PODLINK_DATAPLANE',
    doc: 'Install iptables capture rules (off: routes and status only).',
  },
  {
    path: 'dataplane.tcpPort',
    type: port,
    default: 15001,
    flag: '--tcp-capture-port',
    env: 'PODLINK_TCP_CAPTURE_PORT',
    doc: 'Port of the transparent TCP listener that REDIRECT sends captured connections to.',
  },
  {
    path: 'dataplane.udpPort',
    type: port,
    default: 15002,
    flag: '--udp-capture-port',
    env: 'PODLINK_UDP_CAPTURE_PORT',
    doc: 'Port of the TPROXY UDP listener.',
  },
  {
    path: 'dataplane.bypassMark',
    type: mark,
    default: 0x2000,
    flag: '--bypass-mark',
    env: 'PODLINK_BYPASS_MARK',
    doc: "Mark bit on the agent's own sockets that the capture rules skip (must not overlap kube-proxy's 0x4000/0x8000 or the TPROXY mark).",
  },
  {
    path: 'dataplane.tproxyMark',
    type: mark,
    default: 0x1000,
    flag: '--tproxy-mark',
    env: 'PODLINK_TPROXY_MARK',
    doc: 'Mark bit that routes captured UDP to the local TPROXY socket.',
  },
  {
    path: 'metrics.address',
    type: str(),
    default: '0.0.0.0',
    flag: '--metrics-address',
    env: 'PODLINK_METRICS_ADDRESS',
    doc: 'Address of the /metrics, /healthz and /readyz listener.',
  },
  {
    path: 'metrics.port',
    type: port,
    default: 9464,
    flag: '--metrics-port',
    env: 'PODLINK_METRICS_PORT',
    doc: 'Port of the /metrics, /healthz and /readyz listener.',
  },
  {
    path: 'log.level',
    type: { kind: 'enum', values: ['debug', 'info', 'warn', 'error'] },
    default: 'info',
    flag: '--log-level',
    env: 'PODLINK_LOG_LEVEL',
    doc: 'Minimum level of the JSON log lines on stdout.',
  },
]
