/**
 * Every object podlink installs, built once from the chart values with holes where a value goes
 * (template-holes.ts). `toPlain` of these is deploy/manifests/*.yaml; `toTemplate` is the chart's
 * templates. Reasons for each security-relevant field are beside it; docs/deploy.md repeats them.
 */
import { agentConfigText } from './agent-config-text.ts'
import { CONFIG_FROM_VALUES, type DeployValues, valueAt } from './deploy-values.ts'
import { type Block, type Concat, type Ref, truthy, type When } from './template-holes.ts'

export const NAMESPACE = 'podlink-system'
export const AGENT_NAME = 'podlink-agent'
export const CONFIG_MAP = 'podlink-config'
export const CONFIG_DIR = '/etc/podlink/config'
export const PSK_DIR = '/etc/podlink/psk'
/**
 * The modules behind the rules the dataplane renders (REDIRECT, MARK, set, comment matches) and the conntrack
 * netlink interface the UDP capture reads a redirected datagram's original destination from.
 */
export const KERNEL_MODULES = [
  'xt_REDIRECT',
  'nf_conntrack_netlink',
  'xt_mark',
  'xt_comment',
  'xt_set',
  'ip_set',
  'ip_set_hash_net',
  'ip_set_hash_ipport',
]

export interface ManifestPart {
  /** The chart template file holding it, or null for what only the plain manifests carry. */
  readonly template: string | null
  readonly tree: unknown
}

/** `namespace` is `.Release.Namespace` in the chart; the plain manifests use NAMESPACE. */
export function buildManifests(values: DeployValues, namespace = NAMESPACE): ManifestPart[] {
  const ref = (path: string, str = false): Ref => ({
    hole: 'ref',
    expr: `.Values.${path}`,
    value: valueAt(values, path) as Ref['value'],
    ...(str ? { str } : {}),
  })
  const block = (path: string): Block => ({ hole: 'block', expr: `.Values.${path}`, value: valueAt(values, path) })
  const when = (path: string, then: unknown): When => ({
    hole: 'when',
    expr: `.Values.${path}`,
    on: truthy(valueAt(values, path)),
    body: then,
  })
  const ns: Ref = { hole: 'ref', expr: '.Release.Namespace', value: namespace }
  const labels = { 'app.kubernetes.io/name': 'podlink', 'app.kubernetes.io/component': 'agent' }
  const meta = (name: string, namespaced = true) => ({ name, ...(namespaced ? { namespace: ns } : {}), labels })

  const namespaceObj = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: namespace,
      // hostNetwork, hostPath and added capabilities are outside the baseline Pod Security level.
      labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'privileged' },
    },
  }
  const serviceAccount = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(AGENT_NAME) }
  const clusterRole = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: meta(AGENT_NAME, false),
    rules: [
      // Nodes: the informer (list/watch), and patch for podlink.io/peer-id and podlink.io/mesh-port on
      // the agent's own Node. RBAC cannot narrow patch to one's own Node (docs/deploy.md, hardening).
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch', 'patch'] },
      { apiGroups: [''], resources: ['services'], verbs: ['list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      // core/v1 Events on the Node (create, then patch count and lastTimestamp of repeats).
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    ],
  }
  const binding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: meta(AGENT_NAME, false),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: AGENT_NAME },
    subjects: [{ kind: 'ServiceAccount', name: AGENT_NAME, namespace: ns }],
  }
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(CONFIG_MAP),
    data: { 'config.yaml': agentConfigText(values) },
  }
  const pskSecret = when('psk.create', {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: ref('psk.secretName'), namespace: ns, labels },
    type: 'Opaque',
    stringData: {
      'swarm.key': {
        hole: 'concat',
        parts: ['/key/swarm/psk/1.0.0/\n/base16/\n', { ref: ref('psk.key'), quote: false }, '\n'],
      } satisfies Concat,
    },
  })

  const edgeExpr = (operator: 'Exists' | 'DoesNotExist') => ({
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'node-role.kubernetes.io/edge', operator }] }],
      },
    },
  })
  const image: Concat = {
    hole: 'concat',
    quoted: true,
    parts: [{ ref: ref('image.repository'), quote: false }, ':', { ref: ref('image.tag'), quote: false }],
  }
  const configInputs: Concat = {
    hole: 'concat',
    quoted: true,
    parts: Object.values(CONFIG_FROM_VALUES).flatMap((p, i) => [...(i ? [','] : []), { ref: ref(p), quote: false }]),
  }

  const daemonSet = (edge: boolean) => {
    const name = edge ? `${AGENT_NAME}-edge` : AGENT_NAME
    const podLabels = { ...labels, 'podlink.io/agent': name }
    const env: unknown[] = [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }]
    if (edge)
      env.push(
        // Environment wins over the file: edge nodes read the API through MetaServer on the node,
        // since the cloud's API and its ClusterIP are not reachable from there.
        { name: 'PODLINK_KUBE_MODE', value: 'metaserver' },
        { name: 'PODLINK_KUBE_PROXY', value: ref('kubeEdge.kubeProxy', true) },
      )
    const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
      httpGet: { path, port: 'metrics' },
      periodSeconds,
      timeoutSeconds: 3,
      failureThreshold,
    })
    return {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name, namespace: ns, labels: podLabels },
      spec: {
        selector: { matchLabels: podLabels },
        // One node at a time: a node whose agent restarts loses cross-site routes for a few seconds.
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: {
            labels: podLabels,
            // The agent reads its config once: a changed chart value changes this and so rolls the pods.
            annotations: { 'podlink.io/config-values': configInputs },
          },
          spec: {
            serviceAccountName: AGENT_NAME,
            // MetaServer needs no token: edge nodes (less trusted) then hold no API credentials at all.
            ...(edge ? { automountServiceAccountToken: false } : {}),
            hostNetwork: true,
            dnsPolicy: 'ClusterFirstWithHostNet',
            priorityClassName: ref('priorityClassName'),
            // SIGTERM starts the graceful stop: close mesh connections, then remove PODLINK-* chains,
            // ipsets and ip rules. Each is a sub-second command, but iptables waits for the xtables
            // lock that kube-proxy may hold; 30 s covers that wait with room to spare.
            terminationGracePeriodSeconds: 30,
            nodeSelector: block('nodeSelector'),
            tolerations: block('tolerations'),
            ...(edge
              ? { affinity: edgeExpr('Exists') }
              : { affinity: when('kubeEdge.enabled', edgeExpr('DoesNotExist')) }),
            initContainers: when('kernelModules.load', [
              {
                name: 'load-modules',
                image,
                imagePullPolicy: ref('image.pullPolicy'),
                command: [
                  '/bin/sh',
                  '-c',
                  // A module that is built in or absent is not fatal here: the agent then reports
                  // exactly which rule the kernel refused.
                  `for m in ${KERNEL_MODULES.join(' ')}; do modprobe "$m" || echo "podlink: cannot load $m"; done`,
                ],
                securityContext: {
                  runAsUser: 0,
                  privileged: false,
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'], add: ['SYS_MODULE'] },
                },
                resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
                volumeMounts: [{ name: 'lib-modules', mountPath: '/lib/modules', readOnly: true }],
              },
            ]),
            containers: [
              {
                name: 'agent',
                image,
                imagePullPolicy: ref('image.pullPolicy'),
                args: ['run', '--config', `${CONFIG_DIR}/config.yaml`],
                env,
                ports: [
                  { name: 'mesh', containerPort: ref('mesh.listenPort'), protocol: 'TCP' },
                  { name: 'fast', containerPort: ref('mesh.fastPort'), protocol: 'TCP' },
                  { name: 'fast-relay', containerPort: ref('mesh.fastRelayPort'), protocol: 'TCP' },
                  { name: 'metrics', containerPort: ref('metrics.port'), protocol: 'TCP' },
                ],
                startupProbe: probe('/healthz', 2, 60),
                livenessProbe: probe('/healthz', 10, 3),
                readinessProbe: probe('/readyz', 5, 2),
                resources: block('resources'),
                securityContext: {
                  // Root, but with every capability dropped except these two. Kubernetes gives added
                  // capabilities to uid 0 only (no ambient capabilities for other users), and the agent
                  // runs iptables, ipset and ip as child processes that need them.
                  // NET_ADMIN: iptables/ipset (netlink), SO_MARK on the agent's own sockets, conntrack netlink queries.
                  // NET_RAW: iptables-legacy's raw socket (nodes whose kube-proxy runs the legacy backend).
                  runAsUser: 0,
                  privileged: false,
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] },
                  seccompProfile: { type: 'RuntimeDefault' },
                },
                volumeMounts: [
                  { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                  { name: 'psk', mountPath: PSK_DIR, readOnly: true },
                  { name: 'state', mountPath: '/var/lib/podlink' },
                  { name: 'run', mountPath: '/run/podlink' },
                  { name: 'xtables-lock', mountPath: '/run/xtables.lock' },
                  { name: 'lib-modules', mountPath: '/lib/modules', readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: CONFIG_MAP } },
              {
                name: 'psk',
                secret: {
                  secretName: ref('psk.secretName'),
                  defaultMode: 0o400,
                  items: [{ key: 'swarm.key', path: 'swarm.key' }],
                },
              },
              // Identity key and view cache survive restarts and upgrades: peers keep the same ID.
              { name: 'state', hostPath: { path: '/var/lib/podlink', type: 'DirectoryOrCreate' } },
              // The status socket on the host too, so `podlink status` works on the node itself.
              { name: 'run', hostPath: { path: '/run/podlink', type: 'DirectoryOrCreate' } },
              // The lock iptables-legacy shares with kube-proxy and flannel on the host.
              { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
              { name: 'lib-modules', hostPath: { path: '/lib/modules' } },
              { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
            ],
          },
        },
      },
    }
  }

  return [
    { template: null, tree: namespaceObj },
    { template: 'serviceaccount.yaml', tree: serviceAccount },
    { template: 'rbac.yaml', tree: clusterRole },
    { template: 'rbac.yaml', tree: binding },
    { template: 'configmap.yaml', tree: configMap },
    { template: 'secret.yaml', tree: pskSecret },
    { template: 'daemonset.yaml', tree: daemonSet(false) },
    { template: 'daemonset.yaml', tree: when('kubeEdge.enabled', daemonSet(true)) },
  ]
}
