import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root, from this file's place in packages/testlab/src/lab. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..')
export const repoPath = (p: string): string => resolve(REPO_ROOT, p)
/** The lab's processes run on the same Node as the lab tool (Node 24 from .tools). */
export const NODE_BIN = process.execPath
