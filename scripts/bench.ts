// `pnpm bench [--quick] [NAME...]`: runs every benchmark (packages/*/bench/*.bench.ts, test/bench/*.bench.ts)
// whose path contains one of the NAMEs (all when none is given), one after another, printing their figures.
import { spawnSync } from 'node:child_process'
import { globSync } from 'node:fs'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const names = args.filter((a) => !a.startsWith('--'))
const files = [...globSync('packages/*/bench/*.bench.ts'), ...globSync('test/bench/*.bench.ts')]
  .sort()
  .filter((f) => names.length === 0 || names.some((n) => f.includes(n)))
if (files.length === 0) {
  console.error(`no benchmark matches ${names.join(' ')}`)
  process.exit(2)
}
let failed = 0
for (const file of files) {
  console.log(`\n==> ${file}`)
  const r = spawnSync(process.execPath, [file, ...(quick ? ['--quick'] : [])], { stdio: 'inherit' })
  if (r.status !== 0) {
    failed++
    console.log(`==> ${file} failed (exit ${r.status})`)
  }
}
process.exit(failed > 0 ? 1 : 0)
