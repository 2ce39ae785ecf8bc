import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { writeFileAtomic } from './write-file-atomic.ts'

describe('writeFileAtomic', () => {
  const dirs: string[] = []
  const scratch = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'podlink-atomic-'))
    dirs.push(d)
    return d
  }
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })

  it('creates the directory and a 0600 file, and replaces an existing one leaving no temporary file', async () => {
    const dir = join(scratch(), 'state', 'nested')
    const file = join(dir, 'view.json')
    await writeFileAtomic(file, 'one')
    expect(readFileSync(file, 'utf8')).toBe('one')
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    await writeFileAtomic(file, 'two')
    expect(readFileSync(file, 'utf8')).toBe('two')
    expect(readdirSync(dir)).toEqual(['view.json'])
  })

  it('rethrows a failed write and leaves the old file and no temporary file behind', async () => {
    const dir = scratch()
    const file = join(dir, 'verdicts.json')
    writeFileSync(file, 'old')
    // A directory where the file should be: the rename fails after the temporary file was written.
    const blocked = join(dir, 'sub')
    await writeFileAtomic(join(blocked, 'x'), 'fine')
    await expect(writeFileAtomic(blocked, 'new')).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST|directory/i)
    expect(readFileSync(file, 'utf8')).toBe('old')
    expect(readdirSync(dir).sort()).toEqual(['sub', 'verdicts.json'])
  })
})
