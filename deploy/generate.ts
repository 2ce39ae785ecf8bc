#!/usr/bin/env node
/**
 * Regenerates deploy/manifests/*.yaml and the Helm chart (deploy/helm/podlink) from the one source,
 * packages/deploy-check/src/build-manifests.ts. Run after changing it, the chart values or the agent's
 * config schema: `node deploy/generate.ts`. `node deploy/generate.ts --check` only reports drift.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { generateDeploy } from '../packages/deploy-check/src/generate-deploy.ts'

const root = import.meta.dirname
const check = process.argv.includes('--check')
let stale = 0
for (const [path, text] of generateDeploy()) {
  const file = join(root, path)
  let old: string | null = null
  try {
    old = readFileSync(file, 'utf8')
  } catch {
    old = null
  }
  if (old === text) continue
  stale++
  if (check) console.error(`deploy/${path}: differs from what generate.ts makes`)
  else {
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, text)
    console.log(`wrote deploy/${path}`)
  }
}
process.exitCode = check && stale > 0 ? 1 : 0
