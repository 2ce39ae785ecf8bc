import { execFile } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { PodlinkError } from '@podlink/core'

const run = promisify(execFile)

export interface LabPkiOptions {
  /** IP SANs of the server certificate; 127.0.0.1 is always added. */
  ips: string[]
  /** DNS SANs; `localhost` and `kubernetes` are always added. */
  names?: string[]
  /** Certificate lifetime; the lab's are short-lived. Default 30. */
  days?: number
}

export interface LabPki {
  caFile: string
  caPem: string
  certFile: string
  keyFile: string
}

/**
 * A throwaway lab CA and a server certificate signed by it, made with the `openssl` CLI (EC P-256,
 * the fastest to generate). Files land in `dir` (created if needed); keys are mode 0600.
 */
export async function makeLabPki(dir: string, options: LabPkiOptions): Promise<LabPki> {
  await mkdir(dir, { recursive: true })
  const caKey = join(dir, 'ca.key')
  const caFile = join(dir, 'ca.crt')
  const keyFile = join(dir, 'apiserver.key')
  const csrFile = join(dir, 'apiserver.csr')
  const certFile = join(dir, 'apiserver.crt')
  const extFile = join(dir, 'apiserver.ext')
  const days = String(options.days ?? 30)
  const ips = [...new Set(['127.0.0.1', ...options.ips])]
  const names = [...new Set(['localhost', 'kubernetes', ...(options.names ?? [])])]
  const san = [...ips.map((ip) => `IP:${ip}`), ...names.map((n) => `DNS:${n}`)].join(',')
  await writeFile(
    extFile,
    `subjectAltName=${san}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`,
  )
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await openssl(['req', '-x509', ...ec, '-keyout', caKey, '-out', caFile, '-days', days, '-subj', '/CN=podlink-lab-ca'])
  await openssl(['req', '-new', ...ec, '-keyout', keyFile, '-out', csrFile, '-subj', '/CN=kube-apiserver'])
  await openssl([
    'x509',
    '-req',
    '-in',
    csrFile,
    '-CA',
    caFile,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-out',
    certFile,
    '-days',
    days,
    '-extfile',
    extFile,
  ])
  return { caFile, caPem: await readFile(caFile, 'utf8'), certFile, keyFile }
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { env: { ...process.env, OPENSSL_CONF: '/dev/null' } })
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? ''
    throw new PodlinkError('apiserver-pki', `Cannot run openssl ${args[0]} as it failed: ${stderr.trim()}`, {
      cause: err,
    })
  }
}
