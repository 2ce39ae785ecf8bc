import { describe, expect, it } from 'vitest'
import { readChartTemplates, readYaml } from './deploy-files.ts'
import { DEFAULT_VALUES, type DeployValues, VALUES_DOC } from './deploy-values.ts'
import { FULL_VALUES, KUBEEDGE_VALUES, plainObjects } from './generate-deploy.ts'
import { mergeValues, renderChart } from './render-chart.ts'

/** Dotted paths of every value; nodeSelector is one value (a map of arbitrary labels). */
const leaves = (o: unknown, prefix = ''): [string, unknown][] =>
  typeof o === 'object' && o !== null && !Array.isArray(o) && prefix !== 'nodeSelector.'
    ? Object.entries(o).flatMap(([k, v]) => leaves(v, `${prefix}${k}.`))
    : [[prefix.slice(0, -1), o]]

/** Helm orders objects by kind when it installs; compare them in one fixed order. */
const byName = (objects: unknown[]) => [...objects].sort((a, b) => key(a).localeCompare(key(b)))
const key = (o: unknown) => {
  const x = o as { kind: string; metadata: { name: string } }
  return `${x.kind}/${x.metadata.name}`
}
const render = (userValues: unknown) =>
  byName(
    renderChart(readChartTemplates(), {
      values: mergeValues(readYaml('helm/podlink/values.yaml'), userValues),
      releaseNamespace: 'podlink-system',
    }),
  )
/** What the chart should produce: the plain manifests without the Namespace (helm --create-namespace makes it). */
const expected = (values: typeof DEFAULT_VALUES) =>
  byName(plainObjects(values).filter((o) => (o as { kind: string }).kind !== 'Namespace'))

describe('the Helm chart', () => {
  it('has values.yaml equal to the defaults the plain manifests are built with, every value documented', () => {
    expect(readYaml('helm/podlink/values.yaml')).toEqual(DEFAULT_VALUES)
    for (const [path] of leaves(DEFAULT_VALUES)) expect(VALUES_DOC[path], path).toBeTruthy()
  })

  it('renders with default values to the plain manifests (deploy/manifests/podlink.yaml)', () => {
    const objects = render({})
    expect(objects).toEqual(expected(DEFAULT_VALUES))
    expect(objects.map((o) => (o as { kind: string }).kind)).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'DaemonSet',
      'ServiceAccount',
    ])
  })

  it('renders with kubeEdge.enabled to the KubeEdge manifests, two DaemonSets split by the edge label', () => {
    const objects = render({ kubeEdge: { enabled: true } })
    expect(objects).toEqual(expected(KUBEEDGE_VALUES))
    expect(objects.filter((o) => (o as { kind: string }).kind === 'DaemonSet')).toHaveLength(2)
  })

  it('renders ci/full-values.yaml, which changes every value, to the objects built from those values', () => {
    const full = readYaml('helm/podlink/ci/full-values.yaml')
    expect(full).toEqual(FULL_VALUES)
    const defaults = new Map(leaves(DEFAULT_VALUES))
    for (const [path, v] of leaves(FULL_VALUES)) expect(v, path).not.toEqual(defaults.get(path))
    const objects = render(full)
    // Helm merges maps of the user's values into values.yaml (nodeSelector keeps kubernetes.io/os).
    expect(objects).not.toEqual(expected(FULL_VALUES))
    expect(objects).toEqual(expected(mergeValues(DEFAULT_VALUES, FULL_VALUES) as DeployValues))
    expect(objects.map((o) => (o as { kind: string }).kind)).toContain('Secret')
  })

  it('tells the rendered objects apart when a value changes (the comparison can fail)', () => {
    expect(render({ logLevel: 'warn' })).not.toEqual(expected(DEFAULT_VALUES))
    expect(render({ tolerations: [] })).not.toEqual(expected(DEFAULT_VALUES))
  })
})
