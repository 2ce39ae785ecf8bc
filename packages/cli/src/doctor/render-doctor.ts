import type { Paint, Style } from '../render/colour.ts'
import type { CheckLevel, CheckResult } from './doctor-checks.ts'

const MARK: Readonly<Record<CheckLevel, [string, Style]>> = {
  ok: ['ok  ', 'green'],
  warn: ['WARN', 'yellow'],
  fail: ['FAIL', 'red'],
  skip: ['skip', 'dim'],
}

/** One line per check, the fix indented under every warning and failure, and a closing tally. */
export function renderDoctor(results: readonly CheckResult[], paint: Paint): string {
  const lines: string[] = []
  for (const r of results) {
    const [mark, style] = MARK[r.level]
    lines.push(`${paint(mark, style)}  ${r.title}: ${r.detail}`)
    if (r.fix && (r.level === 'warn' || r.level === 'fail')) lines.push(`      fix: ${r.fix}`)
  }
  const n = (l: CheckLevel): number => results.filter((r) => r.level === l).length
  lines.push('', `${n('fail')} failed, ${n('warn')} warnings, ${n('ok')} ok, ${n('skip')} skipped`)
  return lines.join('\n')
}
