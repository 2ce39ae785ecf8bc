/** Reading the committed files under deploy/ (tests check these, not only what the generator returns). */
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parse, parseAllDocuments } from 'yaml'

export const DEPLOY_DIR = resolve(import.meta.dirname, '../../../deploy')
export const CHART_PATH = join(DEPLOY_DIR, 'helm/podlink')

export function readDeploy(path: string): string {
  return readFileSync(join(DEPLOY_DIR, path), 'utf8')
}

export function readYaml(path: string): unknown {
  return parse(readDeploy(path))
}

/** Every non-empty document of a multi-document YAML file under deploy/. */
export function readManifest(path: string): unknown[] {
  return parseAllDocuments(readDeploy(path))
    .map((d) => d.toJS() as unknown)
    .filter((o) => o !== null && o !== undefined)
}

/** The chart's templates that produce manifests (NOTES.txt is printed, not applied). */
export function readChartTemplates(): Map<string, string> {
  const dir = join(CHART_PATH, 'templates')
  return new Map(
    readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => [f, readFileSync(join(dir, f), 'utf8')]),
  )
}
