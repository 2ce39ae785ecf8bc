import { describe, expect, it } from 'vitest'
import { parseSwarmKey } from '../../tunnel/src/node/swarm-key.ts'
import { readManifest } from './deploy-files.ts'
import { DEFAULT_VALUES, type DeployValues } from './deploy-values.ts'
import { FULL_VALUES, plainObjects } from './generate-deploy.ts'
import { mergeValues } from './render-chart.ts'

const objects = readManifest('manifests/podlink.yaml') as any[]
const ds = objects.find((o) => o.kind === 'DaemonSet')
const pod = ds.spec.template.spec
const agent = pod.containers[0]

describe('the agent DaemonSet', () => {
  it('runs on the host network with cluster DNS, on every node including edge and control-plane', () => {
    expect(pod.hostNetwork).toBe(true)
    expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet')
    const keys = pod.tolerations.map((t: { key: string }) => t.key)
    expect(keys).toEqual(
      expect.arrayContaining(['node-role.kubernetes.io/edge', 'node-role.kubernetes.io/control-plane']),
    )
    expect(ds.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } })
  })

  it('holds NET_ADMIN and NET_RAW only, unprivileged; SYS_MODULE only in the init container', () => {
    expect(agent.securityContext.privileged).toBe(false)
    expect(agent.securityContext.allowPrivilegeEscalation).toBe(false)
    expect(agent.securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] })
    expect(pod.initContainers.map((c: any) => c.securityContext.capabilities.add)).toEqual([['SYS_MODULE']])
    expect(JSON.stringify(pod)).not.toMatch(/"privileged":true|SYS_ADMIN/)
  })

  it('mounts the xtables lock, /lib/modules read-only, the state dir on the host, the PSK with mode 0400', () => {
    const mount = (path: string) => agent.volumeMounts.find((m: { mountPath: string }) => m.mountPath === path)
    const volume = (name: string) => pod.volumes.find((v: { name: string }) => v.name === name)
    expect(volume(mount('/run/xtables.lock').name).hostPath).toEqual({
      path: '/run/xtables.lock',
      type: 'FileOrCreate',
    })
    expect(mount('/lib/modules').readOnly).toBe(true)
    expect(volume(mount('/var/lib/podlink').name).hostPath.path).toBe('/var/lib/podlink')
    // The agent refuses a key file group or others can read (tunnel/src/node/secret-file.ts): no 0644, no fsGroup.
    const psk = pod.volumes.find((v: any) => v.secret)
    expect(psk.secret.defaultMode & 0o077).toBe(0)
    expect(pod.securityContext?.fsGroup).toBeUndefined()
  })

  it('sets NODE_NAME from spec.nodeName, probes /healthz and /readyz, resources from the lab RSS figure, a grace period', () => {
    expect(agent.env[0]).toEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } })
    expect(agent.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' })
    expect(agent.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' })
    expect(agent.resources).toEqual({ requests: { cpu: '50m', memory: '256Mi' }, limits: { memory: '768Mi' } })
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30)
  })

  it('has RBAC for exactly what the agent reads and writes', () => {
    const role = objects.find((o) => o.kind === 'ClusterRole')
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch', 'patch'] },
      { apiGroups: [''], resources: ['services'], verbs: ['list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    ])
  })

  it('makes a PSK Secret that the agent’s own swarm.key parser accepts (psk.create)', () => {
    const secret = plainObjects(mergeValues(DEFAULT_VALUES, FULL_VALUES) as DeployValues).find(
      (o: any) => o.kind === 'Secret',
    ) as any
    expect(() => parseSwarmKey(new TextEncoder().encode(secret.stringData['swarm.key']))).not.toThrow()
    expect(objects.find((o) => o.kind === 'Secret')).toBeUndefined()
  })
})
