import { describe, expect, it } from 'vitest'
import { checkExit, type ExitPolicy } from './check-exit.ts'
import { createFlowHeaderDecoder, encodeFlowHeader } from './flow-header.ts'
import { FLOW_REFUSALS, FlowProtocolError, type FlowRefusal } from './flow-types.ts'

/** Deterministic PRNG (mulberry32) so a failing input can be replayed from its index. */
function rng(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const policy: ExitPolicy = { ownPodCIDRs: ['10.244.3.0/24'], servedEndpoints: new Set(), forbidden: ['192.168.1.10'] }

const seeds = [
  encodeFlowHeader({ protocol: 'tcp', dst: { ip: '10.244.3.7', port: 80 }, src: null, service: false, serviceKey: '' }),
  encodeFlowHeader({
    protocol: 'udp',
    dst: { ip: 'fd00::7', port: 53 },
    src: '2001:db8::1',
    service: false,
    serviceKey: '',
  }),
  encodeFlowHeader({
    protocol: 'tcp',
    dst: { ip: '127.0.0.1', port: 22 },
    src: '10.0.0.1',
    service: true,
    serviceKey: 'ns/a:http',
  }),
]

function mutate(r: () => number, input: Uint8Array): Uint8Array {
  const out = new Uint8Array(input)
  const kind = Math.floor(r() * 5)
  if (kind === 0) out[Math.floor(r() * out.length)]! ^= 1 << Math.floor(r() * 8)
  else if (kind === 1) out[Math.floor(r() * out.length)] = Math.floor(r() * 256)
  else if (kind === 2) return out.subarray(0, Math.floor(r() * out.length))
  else if (kind === 3)
    out[1] = Math.floor(r() * 256) // length field
  else {
    const extra = new Uint8Array(out.length + Math.floor(r() * 40))
    extra.set(out)
    for (let i = out.length; i < extra.length; i++) extra[i] = Math.floor(r() * 256)
    extra[1] = extra.length - 2
    return extra
  }
  return out
}

describe('flow header fuzz', () => {
  it('100,000 random and mutated headers: never a crash, each refused with a reason or admitted by policy', () => {
    const r = rng(0x5eed)
    const counts = new Map<string, number>()
    const heapBefore = process.memoryUsage().heapUsed
    for (let i = 0; i < 100_000; i++) {
      let input: Uint8Array
      if (i % 2 === 0) {
        input = new Uint8Array(Math.floor(r() * 300))
        for (let j = 0; j < input.length; j++) input[j] = Math.floor(r() * 256)
        if (i % 4 === 0 && input.length > 3) {
          input[0] = 0 // plausible length and version, so the fuzz reaches the body parser
          input[1] = Math.min(254, input.length - 2)
          input[2] = 1
        }
      } else {
        input = mutate(r, seeds[i % seeds.length]!)
      }
      const decoder = createFlowHeaderDecoder()
      let outcome: string
      try {
        let header = null
        for (let at = 0; at < input.length; ) {
          const step = 1 + Math.floor(r() * 64)
          header = decoder.push(input.subarray(at, at + step))
          at += step
        }
        if (header === null)
          outcome = 'header-timeout' // the handler's timer would refuse it
        else {
          const v = checkExit({ ...header.dst, protocol: header.protocol, service: header.service }, policy)
          outcome = v.ok ? 'ok' : v.reason
        }
      } catch (err) {
        if (!(err instanceof FlowProtocolError)) throw new Error(`input ${i} threw an untyped error`, { cause: err })
        outcome = err.reason
      }
      expect(outcome === 'ok' || FLOW_REFUSALS.includes(outcome as FlowRefusal)).toBe(true)
      counts.set(outcome, (counts.get(outcome) ?? 0) + 1)
    }
    const growth = process.memoryUsage().heapUsed - heapBefore
    console.log('fuzz outcomes', Object.fromEntries(counts), 'heap growth MiB', (growth / 2 ** 20).toFixed(1))
    // Every path was exercised, and nothing accumulates across inputs (decoders are dropped, each holds <= 256 B).
    for (const want of ['ok', 'bad-header', 'unsupported-version', 'header-timeout', 'forbidden-destination']) {
      expect(counts.get(want) ?? 0).toBeGreaterThan(0)
    }
    expect(growth).toBeLessThan(64 * 2 ** 20)
  })

  it('buffers at most the header whatever the sender streams before completing it', () => {
    const decoder = createFlowHeaderDecoder()
    // A valid-length, valid-version prefix, then 1 MiB of zeros: the body is complete after 254 B and fails.
    expect(() => {
      decoder.push(new Uint8Array([0, 254, 1]))
      for (let i = 0; i < 1024; i++) decoder.push(new Uint8Array(1024))
    }).toThrow(FlowProtocolError)
    expect(decoder.remainder.length).toBe(0)
  })
})
