import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const NATIVE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../native')
export const RELAY_SOURCE = resolve(NATIVE_DIR, 'relay.c')
/** Where the build puts the library, and where the agent looks for it first (see native-relay.ts). */
export const RELAY_LIBRARY = resolve(NATIVE_DIR, 'dist/libpodlink-relay.so')

/**
 * Compiles libpodlink-relay (relay.c against OpenSSL's libcrypto) when the library is missing or older than its
 * source. Needs a C compiler and libssl-dev (`./run setup` installs both; the image's build stage too). Returns true
 * when it compiled.
 */
export function buildNativeRelay(): boolean {
  if (existsSync(RELAY_LIBRARY) && statSync(RELAY_LIBRARY).mtimeMs >= statSync(RELAY_SOURCE).mtimeMs) return false
  mkdirSync(dirname(RELAY_LIBRARY), { recursive: true })
  const tmp = `${RELAY_LIBRARY}.${process.pid}.tmp`
  execFileSync(
    'cc',
    ['-O2', '-Wall', '-Wextra', '-shared', '-fPIC', '-o', tmp, RELAY_SOURCE, '-lcrypto', '-lpthread'],
    {
      stdio: 'inherit',
    },
  )
  execFileSync('mv', ['-f', tmp, RELAY_LIBRARY])
  return true
}
