// Builds the lab's native helpers into .tools/bin (run by `./run setup`; idempotent).
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const toolsBin = resolve(here, '../../../../.tools/bin')

const targets = [{ name: 'nfq-delay', source: join(here, 'nfq-delay.c'), libs: ['-lnetfilter_queue'] }]

mkdirSync(toolsBin, { recursive: true })
for (const t of targets) {
  const out = join(toolsBin, t.name)
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(t.source).mtimeMs) continue
  execFileSync('gcc', ['-O2', '-Wall', '-o', out, t.source, ...t.libs], { stdio: 'inherit' })
  console.log(`built ${out}`)
}
