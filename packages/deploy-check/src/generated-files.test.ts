import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CHART_PATH, readDeploy } from './deploy-files.ts'
import { generateDeploy } from './generate-deploy.ts'

describe('generated files under deploy/', () => {
  it('are exactly what `node deploy/generate.ts` makes (run it after changing the source or the agent schema)', () => {
    for (const [path, text] of generateDeploy()) expect(readDeploy(path), `deploy/${path}`).toBe(text)
  })

  it('leave no stale template in the chart', () => {
    const generated = new Set([...generateDeploy().keys()])
    for (const f of readdirSync(join(CHART_PATH, 'templates')))
      expect(generated.has(`helm/podlink/templates/${f}`), f).toBe(true)
  })
})
