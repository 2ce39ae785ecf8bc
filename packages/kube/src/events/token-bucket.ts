/**
 * A token bucket on an injected clock: `burst` tokens, one more every `refillMs`. Pure state,
 * no timers: `take` answers from the time it is given.
 */
export class TokenBucket {
  readonly #burst: number
  readonly #refillMs: number
  #tokens: number
  #at: number

  constructor(burst: number, refillMs: number, now: number) {
    this.#burst = burst
    this.#refillMs = refillMs
    this.#tokens = burst
    this.#at = now
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    const gained = Math.floor((now - this.#at) / this.#refillMs)
    if (gained > 0) {
      this.#tokens = Math.min(this.#burst, this.#tokens + gained)
      this.#at = this.#tokens === this.#burst ? now : this.#at + gained * this.#refillMs
    }
    if (this.#tokens < 1) return false
    this.#tokens--
    return true
  }
}
