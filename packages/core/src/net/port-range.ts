/** How long a closed TCP connection holds its port in TIME_WAIT (Linux's TCP_TIMEWAIT_LEN), in seconds. */
export const TIME_WAIT_S = 60

/** net.ipv4.ip_local_port_range ("32768\t60999\n") as [low, high]; null unless two ports, 1 <= low <= high <= 65535. */
export function parsePortRange(text: string | null): readonly [number, number] | null {
  const m = /^(\d+)\s+(\d+)$/.exec(text?.trim() ?? '')
  if (m === null) return null
  const lo = Number(m[1])
  const hi = Number(m[2])
  return lo >= 1 && lo <= hi && hi <= 65535 ? [lo, hi] : null
}
