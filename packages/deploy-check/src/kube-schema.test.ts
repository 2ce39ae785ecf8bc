import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet'
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole'
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Namespace } from 'kubernetes-models/v1/Namespace'
import { Secret } from 'kubernetes-models/v1/Secret'
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount'
import { describe, expect, it } from 'vitest'
import { readManifest } from './deploy-files.ts'
import { DEFAULT_VALUES, type DeployValues } from './deploy-values.ts'
import { FULL_VALUES, plainObjects } from './generate-deploy.ts'
import { mergeValues } from './render-chart.ts'

/** Each kind podlink installs, with the kubernetes-models class that validates it against the OpenAPI schema. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  Namespace,
  ServiceAccount,
  ClusterRole,
  ClusterRoleBinding,
  ConfigMap,
  Secret,
  DaemonSet,
}

function validate(o: unknown): void {
  const kind = (o as { kind: string }).kind
  const Model = MODELS[kind]
  if (!Model) throw new Error(`Cannot validate a ${kind}: no model listed`)
  new Model(o as never).validate()
}

describe('Kubernetes schemas', () => {
  const sets: [string, unknown[]][] = [
    ['deploy/manifests/podlink.yaml', readManifest('manifests/podlink.yaml')],
    ['deploy/manifests/podlink-kubeedge.yaml', readManifest('manifests/podlink-kubeedge.yaml')],
    ['ci/full-values.yaml', plainObjects(mergeValues(DEFAULT_VALUES, FULL_VALUES) as DeployValues)],
  ]
  for (const [name, objects] of sets)
    it(`validates every object of ${name}`, () => {
      expect(objects.length).toBeGreaterThanOrEqual(6)
      for (const o of objects) expect(() => validate(o), JSON.stringify((o as { kind: string }).kind)).not.toThrow()
    })

  it('rejects a broken DaemonSet (the validation can fail)', () => {
    const ds = structuredClone(
      readManifest('manifests/podlink.yaml').find((o) => (o as { kind: string }).kind === 'DaemonSet'),
    ) as any
    ds.spec.template.spec.containers[0].ports[0].containerPort = 'mesh'
    expect(() => validate(ds)).toThrow()
    delete ds.spec.selector
    expect(() => validate(ds)).toThrow()
  })
})
