import { randomBytes } from 'node:crypto'
import { mkdir, open, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * Replaces `path` with `text` so that a reader (or a crash) sees the old file or the new one, never a part: the text
 * goes to a fresh temporary file beside it (mode 0600, created exclusively), is fsynced, then renamed over `path`.
 * The directory is created (0700) when missing. On failure the temporary file is removed and the error is rethrown
 * unchanged, for the caller to name the file.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
  let created = false
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    const file = await open(tmp, 'wx', 0o600)
    created = true
    try {
      await file.writeFile(text)
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(tmp, path)
  } catch (err) {
    // Only a file we created is removed; if even that fails, the write error is the one to report.
    if (created) await rm(tmp, { force: true }).catch(() => undefined)
    throw err
  }
}
