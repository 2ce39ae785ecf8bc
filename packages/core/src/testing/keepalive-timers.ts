import { execFileSync } from 'node:child_process'

/**
 * The keepalive timers (ms to the next probe) of the established TCP sockets `ss` finds with `filter` (an ss filter
 * expression, e.g. `( dport = :4001 )`): what a test reads to prove a socket probes soon, not after 2 hours.
 */
export function keepaliveTimersMs(filter: string): number[] {
  return execFileSync('ss', ['-tnoH', 'state', 'established', filter], { encoding: 'utf8' })
    .split('\n')
    .flatMap((line) => {
      // e.g. timer:(keepalive,4.9sec,0)
      const m = /timer:\(keepalive,([\d.]+)(ms|sec)/.exec(line)
      return m ? [Number(m[1]) * (m[2] === 'sec' ? 1000 : 1)] : []
    })
}
