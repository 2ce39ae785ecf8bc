import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadOrCreateIdentityKey } from './identity-key.ts'
import { generateSwarmKey, loadSwarmKey, parseSwarmKey, writeSwarmKey } from './swarm-key.ts'

let dir = ''
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'podlink-keys-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('identity key file', () => {
  it('is generated once with mode 0600 and gives the same peer ID afterwards', async () => {
    const path = join(dir, 'identity.key')
    const first = await loadOrCreateIdentityKey(path)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(first.type).toBe('Ed25519')
    const again = await loadOrCreateIdentityKey(path)
    expect(peerIdFromPrivateKey(again).toString()).toBe(peerIdFromPrivateKey(first).toString())
  })
  it.each([0o644, 0o640, 0o604, 0o660])('refuses a file with mode %s', async (mode) => {
    const path = join(dir, 'identity.key')
    await loadOrCreateIdentityKey(path)
    await chmod(path, mode)
    await expect(loadOrCreateIdentityKey(path)).rejects.toMatchObject({
      code: 'SECRET_FILE_MODE',
      message: expect.stringMatching(
        /^Cannot use the identity key at .* as its mode 0\d+ lets group or others access it/,
      ),
    })
  })
  it('refuses a file that is not a libp2p private key', async () => {
    const path = join(dir, 'identity.key')
    await writeFile(path, 'not a key', { mode: 0o600 })
    await expect(loadOrCreateIdentityKey(path)).rejects.toMatchObject({ code: 'IDENTITY_KEY_INVALID' })
  })
})

describe('swarm key file', () => {
  it('round-trips the swarm.key format with mode 0600', async () => {
    const path = join(dir, 'swarm.key')
    const key = generateSwarmKey()
    await writeSwarmKey(path, key)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await loadSwarmKey(path)).key).toEqual(key.key)
    expect(key.key.length).toBe(32)
  })
  it('refuses a missing, open or malformed file', async () => {
    const path = join(dir, 'swarm.key')
    await expect(loadSwarmKey(path)).rejects.toMatchObject({ code: 'SWARM_KEY_MISSING' })
    await writeFile(path, generateSwarmKey().file, { mode: 0o644 })
    await chmod(path, 0o644)
    await expect(loadSwarmKey(path)).rejects.toMatchObject({ code: 'SECRET_FILE_MODE' })
    expect(() => parseSwarmKey(new TextEncoder().encode('/key/swarm/psk/1.0.0/\n/base16/\nabcd\n'))).toThrow(
      /Cannot use the swarm key as/,
    )
  })
})
