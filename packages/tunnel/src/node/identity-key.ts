import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { PodlinkError } from '@podlink/core'
import { readSecretFile, writeSecretFile } from './secret-file.ts'

/**
 * The node's identity: an Ed25519 key in libp2p's protobuf encoding, kept in the state directory with mode 0600.
 * Generated once on first start; afterwards the same file gives the same peer ID (published on the Node).
 * Throws PodlinkError SECRET_FILE_MODE for a file group/others can access, IDENTITY_KEY_INVALID for anything
 * but an Ed25519 private key.
 */
export async function loadOrCreateIdentityKey(path: string): Promise<PrivateKey> {
  const existing = await readSecretFile(path, 'identity key')
  if (existing !== null) {
    let key: PrivateKey
    try {
      key = privateKeyFromProtobuf(existing)
    } catch (err) {
      throw new PodlinkError(
        'IDENTITY_KEY_INVALID',
        `Cannot load the identity key at ${path} as it is not a libp2p private key`,
        {
          cause: err,
        },
      )
    }
    if (key.type !== 'Ed25519') {
      throw new PodlinkError(
        'IDENTITY_KEY_INVALID',
        `Cannot load the identity key at ${path} as it is ${key.type}, not Ed25519`,
      )
    }
    return key
  }
  const key = await generateKeyPair('Ed25519')
  await writeSecretFile(path, privateKeyToProtobuf(key), 'identity key')
  return key
}
