// `pnpm bench [--quick]`: the side-by-side benchmark (test/bench/paths.bench.ts: podlink's paths next to raw,
// wireguard-go and a plain proxy, the NAT matrix and scale figures, in one lab; writes results/bench-latest.json).
// `pnpm bench [--quick] NAME...`: every other benchmark (packages/*/bench/*.bench.ts, test/bench/*.bench.ts) whose
// path contains one of the NAMEs, one after another; `all` runs them all. Other flags are passed through.
import { spawnSync } from 'node:child_process'
import { globSync } from 'node:fs'

const MAIN = 'test/bench/paths.bench.ts'
const args = process.argv.slice(2)
const flags = args.filter((a) => a.startsWith('--'))
const names = args.filter((a) => !a.startsWith('--'))
const all = [...globSync('packages/*/bench/*.bench.ts'), ...globSync('test/bench/*.bench.ts')].sort()
const files =
  names.length === 0 ? [MAIN] : names.includes('all') ? all : all.filter((f) => names.some((n) => f.includes(n)))
if (files.length === 0) {
  console.error(`no benchmark matches ${names.join(' ')}; there are: ${all.join(', ')}`)
  process.exit(2)
}
let failed = 0
for (const file of files) {
  console.log(`\n==> ${file}`)
  const r = spawnSync(process.execPath, [file, ...flags], { stdio: 'inherit' })
  if (r.status !== 0) {
    failed++
    console.log(`==> ${file} failed (exit ${r.status})`)
  }
}
process.exit(failed > 0 ? 1 : 0)
