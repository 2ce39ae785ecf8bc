// `pnpm test`: every check CI runs, in order: types, lint, unit tests, lab tests, the fault suite (issue 9: about 6
// minutes, so the whole suite runs in CI rather than a subset).
// Ends with one summary line "tests: N passed, N failed" that CI reads.
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'

const steps: Array<{ name: string; cmd: string[]; report?: string }> = [
  { name: 'typecheck', cmd: ['pnpm', '--silent', 'typecheck'] },
  { name: 'lint', cmd: ['pnpm', '--silent', 'lint'] },
  {
    name: 'unit',
    cmd: [
      'pnpm',
      'exec',
      'vitest',
      'run',
      '--project',
      'unit',
      '--reporter=default',
      '--reporter=json',
      '--outputFile.json=results/unit.json',
    ],
    report: 'results/unit.json',
  },
  {
    name: 'lab',
    cmd: [
      'pnpm',
      'exec',
      'vitest',
      'run',
      '--project',
      'lab',
      '--reporter=default',
      '--reporter=json',
      '--outputFile.json=results/lab.json',
    ],
    report: 'results/lab.json',
  },
  {
    name: 'faults',
    cmd: [
      'pnpm',
      'exec',
      'vitest',
      'run',
      '--project',
      'faults',
      '--reporter=default',
      '--reporter=json',
      '--outputFile.json=results/faults-tests.json',
    ],
    report: 'results/faults-tests.json',
  },
]

const only = process.argv.slice(2)
let passed = 0
let failed = 0
let skipped = 0
const failedSteps: string[] = []
for (const step of steps) {
  if (only.length > 0 && !only.includes(step.name)) continue
  if (step.report) rmSync(step.report, { force: true })
  console.log(`\n==> ${step.name}: ${step.cmd.join(' ')}`)
  const started = Date.now()
  const r = spawnSync(step.cmd[0]!, step.cmd.slice(1), { stdio: 'inherit' })
  console.log(`==> ${step.name}: exit ${r.status} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  if (r.status !== 0) failedSteps.push(step.name)
  if (step.report) {
    try {
      const j = JSON.parse(readFileSync(step.report, 'utf8')) as {
        numPassedTests: number
        numFailedTests: number
        numPendingTests: number
        numTodoTests: number
      }
      passed += j.numPassedTests
      failed += j.numFailedTests
      skipped += j.numPendingTests + j.numTodoTests
    } catch {
      failed += 1 // no report: the runner itself failed
    }
  } else if (r.status !== 0) {
    failed += 1
  }
}
if (failedSteps.length > 0) console.log(`\nfailed steps: ${failedSteps.join(', ')}`)
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(failedSteps.length > 0 || failed > 0 ? 1 : 0)
