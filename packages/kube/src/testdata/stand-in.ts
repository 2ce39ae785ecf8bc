/**
 * The lab's Kubernetes API stand-in, for this package's tests. @podlink/testlab does not export
 * it from its package entry yet, so it is reached by path; when it does, only this file changes.
 */
export {
  ADMIN_TOKEN,
  type ApiServerFixture,
  startApiServerFixture,
} from '../../../testlab/src/apiserver/api-server-fixture.ts'
export { ENDPOINT_SLICES, NODES, PODS, SERVICES } from '../../../testlab/src/apiserver/index.ts'

/** Polls `check` until it holds; the stand-in answers in milliseconds, so 5 s means broken. */
export async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}
