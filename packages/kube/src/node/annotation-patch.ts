import { PodlinkError } from '@podlink/core'

/** The only annotation prefix podlink writes. */
export const OWNED_PREFIX = 'podlink.io/'

/** Throws PodlinkError `kube-annotation` for a key outside `podlink.io/`. */
export function assertOwnedKey(key: string): void {
  if (!key.startsWith(OWNED_PREFIX) || key.length === OWNED_PREFIX.length) {
    throw new PodlinkError('kube-annotation', `Cannot manage annotation ${key} as it is not under ${OWNED_PREFIX}`)
  }
}

/**
 * The merge patch for `metadata.annotations` that takes `current` to `desired`, or undefined when
 * nothing is to do. `desired` maps each key podlink manages to its value, or to null for "must be
 * absent" (a null in a merge patch deletes the key). Keys not in `desired` are never mentioned,
 * so annotations of other owners are never touched.
 */
export function annotationPatch(
  desired: Readonly<Record<string, string | null>>,
  current: Readonly<Record<string, string>> | undefined,
): Record<string, string | null> | undefined {
  const patch: Record<string, string | null> = {}
  let any = false
  for (const [key, want] of Object.entries(desired)) {
    const have = current?.[key]
    if (want === null ? have !== undefined : have !== want) {
      patch[key] = want
      any = true
    }
  }
  return any ? patch : undefined
}
