/**
 * `pnpm build`: bundles podlink-agent and podlink into one ESM file each (packages/<pkg>/dist), so a
 * node starts an agent in well under a second instead of compiling hundreds of TypeScript modules
 * (measured here: 0.8 s against 3.5 s to `--version`). koffi stays external: it ships native binaries.
 * `ensureBundles()` rebuilds only when a source file is newer than the bundle, so the lab never runs
 * stale code.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, globSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { buildNativeRelay } from '../../../proxy/src/native/build-native-relay.ts'
import { REPO_ROOT } from '../lab/paths.ts'

export interface Bundle {
  readonly entry: string
  readonly out: string
}

export const BUNDLES: readonly Bundle[] = [
  { entry: 'packages/agent/src/main.ts', out: 'packages/agent/dist/podlink-agent.mjs' },
  { entry: 'packages/cli/src/main.ts', out: 'packages/cli/dist/podlink.mjs' },
]

const BANNER =
  "import { createRequire as __podlinkRequire } from 'node:module'; const require = __podlinkRequire(import.meta.url);"

function newestSource(): number {
  let newest = 0
  for (const f of globSync('packages/*/src/**/*.ts', { cwd: REPO_ROOT })) {
    if (f.endsWith('.test.ts')) continue
    newest = Math.max(newest, statSync(resolve(REPO_ROOT, f)).mtimeMs)
  }
  for (const f of ['pnpm-lock.yaml']) newest = Math.max(newest, statSync(resolve(REPO_ROOT, f)).mtimeMs)
  return newest
}

export function buildBundle(b: Bundle): void {
  execFileSync(
    resolve(REPO_ROOT, 'node_modules/.bin/esbuild'),
    [
      b.entry,
      '--bundle',
      '--platform=node',
      '--format=esm',
      '--target=node24',
      `--outfile=${b.out}`,
      '--external:koffi',
      `--banner:js=${BANNER}`,
      '--log-level=warning',
    ],
    { cwd: REPO_ROOT, stdio: 'inherit' },
  )
}

/**
 * Builds every bundle that is missing or older than the newest source file; returns the ones built. The native
 * relay's library too (the bundles load it from packages/proxy/native/dist).
 */
export function ensureBundles(): string[] {
  buildNativeRelay()
  const newest = newestSource()
  const built: string[] = []
  for (const b of BUNDLES) {
    const out = resolve(REPO_ROOT, b.out)
    if (existsSync(out) && statSync(out).mtimeMs >= newest) continue
    buildBundle(b)
    built.push(b.out)
  }
  return built
}

export const bundlePath = (b: Bundle): string => resolve(REPO_ROOT, b.out)
