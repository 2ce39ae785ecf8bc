import { describe, expect, it } from 'vitest'
import { CONFIG_SCHEMA } from '../../agent/src/config/config-schema.ts'
import { checkAgentInputs, TEST_NODE } from './check-agent-inputs.ts'
import { readManifest } from './deploy-files.ts'
import { CONFIG_FROM_VALUES, DEFAULT_VALUES, type DeployValues } from './deploy-values.ts'
import { FULL_VALUES, plainObjects } from './generate-deploy.ts'
import { mergeValues } from './render-chart.ts'

const find = (objects: unknown[], kind: string, name?: string) =>
  objects.find((o) => {
    const x = o as { kind: string; metadata: { name: string } }
    return x.kind === kind && (name === undefined || x.metadata.name === name)
  }) as Record<string, any>

describe('what the manifests pass the agent', () => {
  it('passes the agent’s own parseArgs and resolveConfig on every DaemonSet (plain manifests on disk)', () => {
    const plain = checkAgentInputs(readManifest('manifests/podlink.yaml'))
    expect(plain.problems).toEqual([])
    const c = plain.configs.get('podlink-agent')!
    expect(c.nodeName).toBe(TEST_NODE)
    expect(c.kube.mode).toBe('in-cluster')
    const edge = checkAgentInputs(readManifest('manifests/podlink-kubeedge.yaml'))
    expect(edge.problems).toEqual([])
    expect(edge.configs.get('podlink-agent-edge')!.kube.mode).toBe('metaserver')
    expect(edge.configs.get('podlink-agent-edge')!.kube.kubeProxy).toBe(false)
    expect(edge.configs.get('podlink-agent')!.kube.mode).toBe('in-cluster')
  })

  it('carries the chart values into the resolved config (every value)', () => {
    const values = mergeValues(DEFAULT_VALUES, FULL_VALUES) as DeployValues
    const r = checkAgentInputs(plainObjects(values))
    expect(r.problems).toEqual([])
    const c = r.configs.get('podlink-agent')!
    expect(c.log.level).toBe('debug')
    expect(c.metrics.port).toBe(9465)
    expect(c.mesh.listenPort).toBe(4002)
    expect(c.mesh.relay).toBe('always')
    expect(c.mesh.publicRanges).toEqual(['100.64.0.0/10', '198.18.0.0/15'])
    expect(c.kube).toMatchObject({ mode: 'metaserver', kubeProxy: false, metaServerUrl: 'http://127.0.0.1:10551' })
    expect(r.configs.get('podlink-agent-edge')!.kube.kubeProxy).toBe(true)
  })

  it('documents every option of the schema in the ConfigMap, with its doc, flag and env', () => {
    const text = find(readManifest('manifests/podlink.yaml'), 'ConfigMap').data['config.yaml'] as string
    for (const s of CONFIG_SCHEMA) {
      expect(text).toContain(`# ${s.doc}`)
      expect(text).toContain(`flag ${s.flag}, env ${s.env}`)
    }
    for (const path of Object.keys(CONFIG_FROM_VALUES)) expect(CONFIG_SCHEMA.map((s) => s.path)).toContain(path)
  })

  it('fails on a renamed env var, an unknown config key, a bad flag and a missing PSK mount', () => {
    const objects = structuredClone(readManifest('manifests/podlink.yaml'))
    const ds = find(objects, 'DaemonSet')
    const agent = ds.spec.template.spec.containers[0]
    agent.env.push({ name: 'PODLINK_LOGLEVEL', value: 'debug' })
    agent.args.push('--log-lvl', 'debug')
    const cm = find(objects, 'ConfigMap')
    cm.data['config.yaml'] = cm.data['config.yaml'].replace('  listenPort:', '  listenport:')
    const r = checkAgentInputs(objects)
    expect(r.problems.join('\n')).toMatch(/env PODLINK_LOGLEVEL is no option/)
    expect(r.problems.join('\n')).toMatch(/--log-lvl: unknown flag/)
    expect(r.problems.join('\n')).toMatch(/mesh.listenport: unknown option/)

    const again = structuredClone(readManifest('manifests/podlink.yaml'))
    find(again, 'DaemonSet').spec.template.spec.volumes.find((v: { name: string }) => v.name === 'psk').secret.items =
      []
    expect(checkAgentInputs(again).problems.join('\n')).toMatch(/mesh.pskFile .* is not a mounted Secret item/)
  })
})
