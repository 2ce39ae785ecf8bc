/** Runs Graphviz's `dot` (Debian package `graphviz`) when it is installed; the builtin SVG is the fallback. */
import { spawnSync } from 'node:child_process'
import { PodlinkError } from '@podlink/core'

/** True when `dot -V` runs. */
export function hasGraphviz(dotBinary = 'dot'): boolean {
  const r = spawnSync(dotBinary, ['-V'], { stdio: 'ignore' })
  return r.error === undefined && r.status === 0
}

/** DOT text -> SVG text. Throws PodlinkError ERR_GRAPHVIZ with dot's stderr when it fails. */
export function dotToSvg(dot: string, dotBinary = 'dot'): string {
  const r = spawnSync(dotBinary, ['-Tsvg'], { input: dot, encoding: 'utf8', timeout: 20_000 })
  if (r.error !== undefined || r.status !== 0)
    throw new PodlinkError(
      'ERR_GRAPHVIZ',
      `Cannot lay out the graph as ${dotBinary} -Tsvg failed: ${r.error?.message ?? r.stderr.trim()}`,
      { cause: r.error },
    )
  return r.stdout
}
