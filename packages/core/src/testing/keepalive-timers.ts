import { execFileSync } from 'node:child_process'

/**
 * The keepalive timers (ms to the next probe) of the established TCP sockets `ss` finds with `filter` (an ss filter
 * expression, e.g. `( dport = :4001 )`): what a test reads to prove a socket probes soon, not after 2 hours.
 */
export function keepaliveTimersMs(filter: string): number[] {
  return execFileSync('ss', ['-tnoH', 'state', 'established', filter], { encoding: 'utf8' })
    .split('\n')
    .flatMap((line) => {
      const m = /timer:\(keepalive,([^,)]*)/.exec(line)
      return m ? [parseSsTimer(m[1]!)] : []
    })
}

/**
 * One `ss -o` timer value in ms. iproute2 6.1 (Debian 12) prints seconds with a fraction under an "ms" suffix:
 * `876ms` is 876 ms but `4.896ms` is 4 s 896 ms; whole seconds are `4sec`, `1min4sec`, `119min` (2 hours less a
 * bit), and nothing at all for a timer due now. Throws on anything else, so a test cannot pass on a timer it failed to
 * read.
 */
export function parseSsTimer(text: string): number {
  if (text === '') return 0
  const m = /^(?:(\d+)min)?(?:(\d+)(?:\.(\d{1,3}))?(ms|sec))?$/.exec(text)
  if (m === null || (m[1] === undefined && m[2] === undefined)) throw new Error(`Cannot read the ss timer "${text}"`)
  const minutes = Number(m[1] ?? 0) * 60_000
  if (m[2] === undefined) return minutes
  const whole = Number(m[2])
  if (m[3] !== undefined) return minutes + whole * 1000 + Number(m[3].padEnd(3, '0'))
  return minutes + (m[4] === 'sec' ? whole * 1000 : whole)
}
