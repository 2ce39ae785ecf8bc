import { PodlinkError } from './errors.ts'

/** podlink's minimum Node major version: js-libp2p v3 needs 22+, SO_REUSEPORT listeners 22.12+, we test on 24. */
export const MIN_NODE_MAJOR = 24

/** Throws a clear error when the running Node is older than podlink supports. */
export function assertSupportedRuntime(version: string = process.versions.node): void {
  const major = Number.parseInt(version.split('.')[0] ?? '', 10)
  if (!Number.isFinite(major) || major < MIN_NODE_MAJOR) {
    throw new PodlinkError(
      'ERR_UNSUPPORTED_RUNTIME',
      `Cannot start podlink as Node ${version} is older than ${MIN_NODE_MAJOR}: install Node ${MIN_NODE_MAJOR} (./run setup puts it in .tools/)`,
    )
  }
}
