/**
 * Pure: topology -> the Kubernetes objects the API stand-in starts with: Namespaces, Nodes (with
 * podCIDRs, addresses, labels, annotations, Ready), Pods (scheduled, running, ready, with their IPs)
 * and Services. EndpointSlices are the stand-in's to derive, as the real controller does.
 */
import type { Topology } from '../topology/topology.ts'

export type KubeObject = Record<string, unknown> & { apiVersion: string; kind: string }

const STARTED = '2026-01-01T00:00:00Z'

export function seedObjects(t: Topology): KubeObject[] {
  // The stand-in makes the built-in namespaces itself, as a real control plane does.
  const builtIn = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease'])
  const namespaces = new Set(
    [...t.pods.map((p) => p.namespace), ...t.services.map((s) => s.namespace)].filter((n) => !builtIn.has(n)),
  )
  const objects: KubeObject[] = [...namespaces].map((name) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'kubernetes.io/metadata.name': name } },
    status: { phase: 'Active' },
  }))
  for (const n of t.nodes) {
    const addresses = [{ type: 'InternalIP', address: n.ip }]
    if (n.publicIP) addresses.push({ type: 'ExternalIP', address: n.publicIP })
    addresses.push({ type: 'Hostname', address: n.name })
    objects.push({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: n.name,
        labels: { 'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux', ...n.labels },
        annotations: { ...n.annotations },
      },
      spec: n.podCIDRs.length > 0 ? { podCIDR: n.podCIDRs[0], podCIDRs: [...n.podCIDRs] } : {},
      status: {
        addresses,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'KubeletReady',
            lastTransitionTime: STARTED,
            lastHeartbeatTime: STARTED,
          },
        ],
        nodeInfo: {
          kubeletVersion: 'v1.30.0-podlink-lab',
          osImage: 'podlink lab namespace',
          containerRuntimeVersion: 'netns://',
          kernelVersion: '',
          architecture: 'amd64',
          operatingSystem: 'linux',
        },
      },
    })
  }
  for (const p of t.pods) {
    objects.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: p.name, namespace: p.namespace, labels: { ...p.labels } },
      spec: {
        nodeName: p.node,
        containers: [
          {
            name: 'echo',
            image: 'podlink-lab/echo',
            ports: p.serve.map((s) => ({
              name: `${s.protocol}-${s.port}`,
              containerPort: s.port,
              protocol: s.protocol.toUpperCase(),
            })),
          },
        ],
      },
      status: {
        phase: 'Running',
        podIP: p.ips[0],
        podIPs: p.ips.map((ip) => ({ ip })),
        hostIP: t.nodes.find((n) => n.name === p.node)?.ip,
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: STARTED }],
        startTime: STARTED,
      },
    })
  }
  for (const s of t.services) {
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: s.name, namespace: s.namespace },
      spec: {
        type: 'ClusterIP',
        clusterIP: s.clusterIP,
        clusterIPs: [s.clusterIP],
        selector: { ...s.selector },
        sessionAffinity: s.sessionAffinity,
        ports: s.ports.map((p) => ({
          ...(p.name ? { name: p.name } : {}),
          port: p.port,
          targetPort: p.targetPort,
          protocol: p.protocol,
        })),
      },
    })
  }
  return objects
}
