import { randomBytes } from 'node:crypto'
import { open, readFile, rename, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { PodlinkError } from '@podlink/core'

/**
 * Read a secret file, refusing one that group or others may read or write: a key other users can read is no
 * longer this node's identity. Returns null when the file does not exist.
 */
export async function readSecretFile(path: string, what: string): Promise<Uint8Array | null> {
  let mode: number
  try {
    mode = (await stat(path)).mode
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return null
    throw new PodlinkError('SECRET_FILE_UNREADABLE', `Cannot read the ${what} at ${path} as stat failed`, {
      cause: err,
    })
  }
  if ((mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0')
    throw new PodlinkError(
      'SECRET_FILE_MODE',
      `Cannot use the ${what} at ${path} as its mode ${octal} lets group or others access it; run chmod 600 ${path}`,
    )
  }
  try {
    return new Uint8Array(await readFile(path))
  } catch (err) {
    throw new PodlinkError('SECRET_FILE_UNREADABLE', `Cannot read the ${what} at ${path}`, { cause: err })
  }
}

/**
 * Write a secret file with mode 0600, atomically (temp file + fsync + rename in the same directory), so a crash
 * never leaves a half-written key that the next start would refuse or, worse, accept.
 */
export async function writeSecretFile(path: string, bytes: Uint8Array, what: string): Promise<void> {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`)
  try {
    const fh = await open(tmp, 'wx', 0o600)
    try {
      await fh.writeFile(bytes)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => undefined)
    throw new PodlinkError('SECRET_FILE_UNWRITABLE', `Cannot write the ${what} at ${path}`, { cause: err })
  }
}
