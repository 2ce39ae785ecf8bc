export interface BackoffOptions {
  /** First delay. Default 500 ms: a restarting API server is usually back within a second. */
  readonly initialMs?: number
  /**
   * Cap. Default 10 s. client-go's reflector uses 30 s; with it, after the fault suite's 2-minute API outage a Node
   * added meanwhile reached the agents 10-26 s after the API returned (the retry due at that moment). At 10 s a
   * fleet of 1,000 agents asks at most ~130 times a second of an API that answers errors (a refused or timed-out
   * connect costs it nothing), about what their kubelets' status updates cost it.
   */
  readonly maxMs?: number
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { initialMs: 500, maxMs: 10_000 }

/**
 * Delay before retry number `attempt` (0-based): capped exponential with "equal jitter" (half
 * fixed, half random), so a fleet of agents that lost the API together does not return in step,
 * and no retry comes sooner than half its nominal delay. `random` is in [0, 1).
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialMs ?? DEFAULT_BACKOFF.initialMs
  const max = options.maxMs ?? DEFAULT_BACKOFF.maxMs
  const nominal = Math.min(max, initial * 2 ** Math.min(attempt, 30))
  return Math.round(nominal / 2 + (nominal / 2) * random())
}
