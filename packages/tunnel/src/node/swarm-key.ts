import { randomBytes } from 'node:crypto'
import { PodlinkError } from '@podlink/core'
import { readSecretFile, writeSecretFile } from './secret-file.ts'

/**
 * The cluster's pre-shared key in the libp2p swarm.key format (what @libp2p/pnet and go-libp2p read):
 *   /key/swarm/psk/1.0.0/\n/base16/\n<64 hex digits>\n
 */
const HEADER = '/key/swarm/psk/1.0.0/'

export interface SwarmKey {
  /** The file bytes, as @libp2p/pnet's `preSharedKey({ psk })` wants them. */
  readonly file: Uint8Array
  /** The 32 key bytes. */
  readonly key: Uint8Array
}

export function parseSwarmKey(file: Uint8Array, source = 'the swarm key'): SwarmKey {
  const lines = new TextDecoder().decode(file).split(/\r?\n/)
  const hex = lines[2]?.trim() ?? ''
  if (lines[0] !== HEADER || lines[1] !== '/base16/' || !/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new PodlinkError(
      'SWARM_KEY_INVALID',
      `Cannot use ${source} as it is not "${HEADER}", "/base16/" and 64 hex digits on three lines`,
    )
  }
  return { file, key: new Uint8Array(Buffer.from(hex, 'hex')) }
}

export function generateSwarmKey(): SwarmKey {
  return parseSwarmKey(new TextEncoder().encode(`${HEADER}\n/base16/\n${randomBytes(32).toString('hex')}\n`))
}

/** Read the swarm key file (mode 0600 enforced like the identity key). Throws PodlinkError SWARM_KEY_MISSING if absent. */
export async function loadSwarmKey(path: string): Promise<SwarmKey> {
  const file = await readSecretFile(path, 'swarm key')
  if (file === null) throw new PodlinkError('SWARM_KEY_MISSING', `Cannot load the swarm key as ${path} does not exist`)
  return parseSwarmKey(file, path)
}

export async function writeSwarmKey(path: string, key: SwarmKey): Promise<void> {
  await writeSecretFile(path, key.file, 'swarm key')
}
