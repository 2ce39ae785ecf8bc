/**
 * The base of every error podlink throws on purpose: a stable `code` that scripts and tests
 * match on, a message of the form "Cannot <action> as <reason>", and the underlying `cause`.
 */
export class PodlinkError extends Error {
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'PodlinkError'
    this.code = code
  }
}

/** True when `err` is a PodlinkError with this code (works across copies of the package). */
export function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code
}
