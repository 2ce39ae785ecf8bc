/**
 * Integrity and concurrency checks against the lab's TCP echo servers, run inside a pod or node:
 *   bulk-check.ts integrity IP:PORT BYTES      one flow: BYTES of pseudo-random data out, the echo back,
 *                                              sha256 of what was sent and of what came back compared
 *   bulk-check.ts concurrent IP:PORT FLOWS BYTES   FLOWS connections at once, each echoing BYTES intact
 * Prints one JSON line: { ok, ... }. Exit 0 only when every byte came back identical.
 */
import { createHash, randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { parseTarget } from '../probe/probe.ts'

interface FlowResult {
  readonly ok: boolean
  readonly bytes: number
  readonly sentSha: string
  readonly echoSha: string
  readonly ms: number
  readonly error?: string
}

/** Sends `total` bytes (random 64 KiB blocks, reused) and hashes both directions; the greeting line is skipped. */
function echoFlow(host: string, port: number, total: number, timeoutMs: number): Promise<FlowResult> {
  return new Promise((resolve) => {
    const started = performance.now()
    const sent = createHash('sha256')
    const echoed = createHash('sha256')
    const block = randomBytes(64 * 1024)
    let written = 0
    let received = 0
    let greeting = true
    const sock = connect({ host, port })
    const timer = setTimeout(() => finish('timeout'), timeoutMs)
    function finish(error?: string): void {
      clearTimeout(timer)
      sock.destroy()
      const sentSha = sent.digest('hex')
      const echoSha = echoed.digest('hex')
      resolve({
        ok: !error && received === total && sentSha === echoSha,
        bytes: received,
        sentSha,
        echoSha,
        ms: performance.now() - started,
        ...(error ? { error } : {}),
      })
    }
    function pump(): void {
      while (written < total) {
        const chunk = total - written >= block.length ? block : block.subarray(0, total - written)
        sent.update(chunk)
        written += chunk.length
        if (!sock.write(chunk)) return void sock.once('drain', pump)
      }
      sock.end()
    }
    sock.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message))
    sock.on('data', (d: Buffer) => {
      let data = d
      if (greeting) {
        const nl = data.indexOf(10)
        if (nl < 0) return
        greeting = false
        data = data.subarray(nl + 1)
        pump()
      }
      echoed.update(data)
      received += data.length
      if (received >= total) finish(received === total ? undefined : 'too many bytes')
    })
    sock.on('end', () => finish(received === total ? undefined : `closed after ${received} of ${total} bytes`))
  })
}

const [mode, target, a, b] = process.argv.slice(2)
const { host, port } = parseTarget(target ?? '')
if (mode === 'integrity') {
  const total = Number(a)
  const r = await echoFlow(host, port, total, 600_000)
  console.log(JSON.stringify({ ...r, mbPerS: Math.round((2 * total) / 1e6 / (r.ms / 1000)) }))
  process.exit(r.ok ? 0 : 1)
} else if (mode === 'concurrent') {
  const flows = Number(a)
  const bytes = Number(b ?? 65536)
  const started = performance.now()
  const results = await Promise.all(Array.from({ length: flows }, () => echoFlow(host, port, bytes, 120_000)))
  const failed = results.filter((r) => !r.ok)
  console.log(
    JSON.stringify({
      ok: failed.length === 0,
      flows,
      completed: flows - failed.length,
      ms: Math.round(performance.now() - started),
      errors: [...new Set(failed.map((f) => f.error ?? 'mismatch'))],
    }),
  )
  process.exit(failed.length === 0 ? 0 : 1)
} else {
  console.error('usage: bulk-check.ts integrity IP:PORT BYTES | concurrent IP:PORT FLOWS [BYTES]')
  process.exit(2)
}
