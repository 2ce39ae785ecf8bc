import { existsSync } from 'node:fs'
import net from 'node:net'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import koffi from 'koffi'

/**
 * The binding of libpodlink-relay (native/relay.c): established fast-channel flows carried by a thread of their
 * own, outside Node's event loop, TLS socket and stream layers. Measured by `pnpm bench relay-floor`: two Node TLS
 * relays cost ~0.04 ms more per round trip than two native ones with the same cipher (issue #10).
 *
 * Optional: without the library (not built, another libc, PODLINK_NATIVE_RELAY=0) `nativeRelay()` is null and the
 * fast channel speaks TLS end to end as before (ALPN podlink-flow/1).
 */
export type NativeEnd = 'clean' | 'reset-plain' | 'reset-sealed' | 'truncated' | 'bad-record' | 'idle' | 'aborted'
const ENDS: readonly NativeEnd[] = [
  'clean',
  'reset-plain',
  'reset-sealed',
  'truncated',
  'bad-record',
  'idle',
  'aborted',
]

export interface NativeFlowResult {
  readonly how: NativeEnd
  /** Plaintext carried plain -> sealed and back. */
  readonly toSealed: number
  readonly toPlain: number
}

export interface NativeFlowInput {
  /** The plain TCP socket's fd and the sealed fast socket's; the relay owns (and closes) both once added. */
  readonly plainFd: number
  readonly sealedFd: number
  /** Seal key (16) and IV (12) for plain -> sealed, then open key and IV for sealed -> plain. */
  readonly keys: Buffer
  readonly sealSeq: bigint
  readonly openSeq: bigint
  /** Plaintext read from the plain socket not yet sent on; plaintext opened from the sealed one not yet delivered. */
  readonly toSealed: Buffer
  readonly toPlain: Buffer
  /** Bytes read from the sealed socket not yet opened (less than a record). */
  readonly sealedPartial: Buffer
  /** Both ways silent this long resets the flow; 0 never. */
  readonly idleMs: number
}

export interface NativeFlow {
  readonly id: number
  readonly done: Promise<NativeFlowResult>
  /** Plaintext carried so far (the last known figures once the flow is over). */
  counts(): { toSealed: number; toPlain: number }
  abort(): void
}

export interface NativeRelay {
  /** Null when the relay refused (no slot, memory): the caller still owns both fds. */
  add(input: NativeFlowInput): NativeFlow | null
  /** Flows it carries now. */
  live(): number
}

/** The places the library may be: beside the sources (tests, the lab's bundle) and where the image puts it. */
function candidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url))
  return [
    process.env.PODLINK_RELAY_LIB ?? '',
    // packages/proxy/src/native (sources) and packages/agent/dist or packages/cli/dist (bundles)
    resolve(here, '../../native/dist/libpodlink-relay.so'),
    resolve(here, '../../proxy/native/dist/libpodlink-relay.so'),
  ].filter((p) => p !== '')
}

let loaded: NativeRelay | null | undefined

/** The relay, started on first use; null when it is unavailable or turned off (PODLINK_NATIVE_RELAY=0). */
export function nativeRelay(): NativeRelay | null {
  if (loaded !== undefined) return loaded
  loaded = null
  if (process.env.PODLINK_NATIVE_RELAY === '0') return null
  const path = candidates().find((p) => existsSync(p))
  if (path === undefined) return null
  try {
    loaded = bind(path)
  } catch {
    loaded = null
  }
  return loaded
}

const DONE_BYTES = 32

function bind(path: string): NativeRelay | null {
  const lib = koffi.load(path)
  const start = lib.func('int plr_start(void)')
  const add = lib.func(
    'int64_t plr_add(int a, int b, const uint8_t *keys, uint64_t abSeq, uint64_t baSeq, const uint8_t *toB, size_t toBLen, const uint8_t *toA, size_t toALen, const uint8_t *fromB, size_t fromBLen, int idleMs)',
  )
  const counts = lib.func('int plr_counts(int64_t id, _Out_ uint64_t *out)')
  const abort = lib.func('int plr_abort(int64_t id)')
  const takeDone = lib.func('int plr_take_done(_Out_ uint8_t *buf, int cap)')
  const live = lib.func('int plr_live(void)')
  const pipeFd = start() as number
  if (pipeFd < 0) return null

  const waiting = new Map<
    number,
    { resolve: (r: NativeFlowResult) => void; last: { toSealed: number; toPlain: number } }
  >()
  const buf = Buffer.alloc(64 * DONE_BYTES)
  const drain = (): void => {
    for (;;) {
      const n = takeDone(buf, 64) as number
      for (let i = 0; i < n; i++) {
        const at = i * DONE_BYTES
        const id = Number(buf.readBigInt64LE(at))
        const result: NativeFlowResult = {
          how: ENDS[buf.readInt32LE(at + 8)] ?? 'aborted',
          toSealed: Number(buf.readBigUInt64LE(at + 16)),
          toPlain: Number(buf.readBigUInt64LE(at + 24)),
        }
        const w = waiting.get(id)
        if (w === undefined) continue
        waiting.delete(id)
        w.last.toSealed = result.toSealed
        w.last.toPlain = result.toPlain
        w.resolve(result)
      }
      if (n < 64) break
    }
  }
  // One byte on the pipe: finished flows are queued. The pipe never keeps the process alive by itself.
  const events = new net.Socket({ fd: pipeFd, readable: true, writable: false })
  events.on('data', drain)
  events.on('error', () => {})
  events.unref()
  const out = [0n, 0n]

  return {
    add(input) {
      const id = add(
        input.plainFd,
        input.sealedFd,
        input.keys,
        input.sealSeq,
        input.openSeq,
        input.toSealed,
        input.toSealed.length,
        input.toPlain,
        input.toPlain.length,
        input.sealedPartial,
        input.sealedPartial.length,
        input.idleMs,
      ) as number | bigint
      const flowId = Number(id)
      if (flowId < 0) return null
      const last = { toSealed: 0, toPlain: 0 }
      let resolveDone!: (r: NativeFlowResult) => void
      const done = new Promise<NativeFlowResult>((r) => {
        resolveDone = r
      })
      waiting.set(flowId, { resolve: resolveDone, last })
      // It may have finished within plr_add (both sockets already ended): its byte is on the pipe; drain now anyway.
      drain()
      return {
        id: flowId,
        done,
        counts() {
          if (waiting.has(flowId) && (counts(flowId, out) as number) === 0) {
            last.toSealed = Number(out[0])
            last.toPlain = Number(out[1])
          }
          return { ...last }
        },
        abort() {
          if ((abort(flowId) as number) === 0) drain()
        },
      }
    },
    live: () => live() as number,
  }
}
