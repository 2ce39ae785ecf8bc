import { describe, expect, it } from 'vitest'
import { createDatagramDecoder, encodeDatagram } from './datagram-framing.ts'
import { createFlowHeaderDecoder, encodeFlowHeader } from './flow-header.ts'
import { createFlowResponseDecoder, encodeFlowResponse } from './flow-response.ts'
import { FLOW_REFUSALS, type FlowHeader, FlowProtocolError, MAX_FLOW_HEADER_BYTES } from './flow-types.ts'

const base: FlowHeader = {
  protocol: 'tcp',
  dst: { ip: '10.244.3.7', port: 8080 },
  src: null,
  service: false,
  serviceKey: '',
}

const cases: Array<[string, FlowHeader]> = [
  ['tcp v4, no source', base],
  ['udp v4 with v4 source', { ...base, protocol: 'udp', src: '10.244.1.2' }],
  ['tcp v6 dst, v6 src', { ...base, dst: { ip: 'fd00:10:244::7', port: 443 }, src: '2001:db8::1' }],
  ['v4 dst, v6 src', { ...base, src: 'fe80::1' }],
  ['port 1', { ...base, dst: { ip: '10.0.0.1', port: 1 } }],
  ['port 65535', { ...base, dst: { ip: '10.0.0.1', port: 65535 } }],
  ['all-zero v6', { ...base, dst: { ip: '::', port: 9 } }],
  ['full v6', { ...base, dst: { ip: '2001:db8:1:2:3:4:5:6', port: 9 } }],
  ['service with key', { ...base, service: true, serviceKey: 'default/web:http' }],
  [
    'service, max key',
    { ...base, dst: { ip: '::1', port: 1 }, src: '::2', service: true, serviceKey: 'k'.repeat(200) },
  ],
]

function decodeAll(bytes: Uint8Array, split: number[]): { header: FlowHeader | null; rest: number } {
  const d = createFlowHeaderDecoder()
  let header: FlowHeader | null = null
  let at = 0
  for (const cut of [...split, bytes.length]) {
    header = d.push(bytes.subarray(at, cut))
    at = cut
  }
  return { header, rest: d.remainder.reduce((n, b) => n + b.length, 0) }
}

describe('flow header codec', () => {
  it.each(cases)('round-trips %s, whole and byte by byte, with payload behind it', (_name, header) => {
    const bytes = encodeFlowHeader(header)
    expect(bytes.length).toBeLessThanOrEqual(MAX_FLOW_HEADER_BYTES)
    const withData = new Uint8Array([...bytes, 1, 2, 3])
    expect(decodeAll(withData, [])).toEqual({ header, rest: 3 })
    const oneByOne = Array.from({ length: withData.length - 1 }, (_, i) => i + 1)
    expect(decodeAll(withData, oneByOne)).toEqual({ header, rest: 3 })
  })

  it('accepts a Uint8ArrayList-like chunk and keeps the payload in order', () => {
    const bytes = encodeFlowHeader(base)
    const list = {
      byteLength: bytes.length + 2,
      *[Symbol.iterator]() {
        yield bytes.subarray(0, 5)
        yield new Uint8Array([...bytes.subarray(5), 7, 8])
      },
    }
    const d = createFlowHeaderDecoder()
    expect(d.push(list)).toEqual(base)
    expect(d.push(new Uint8Array([9]))).toEqual(base)
    expect(d.remainder.flatMap((b) => [...b])).toEqual([7, 8, 9])
  })

  it('canonicalises addresses', () => {
    const bytes = encodeFlowHeader({ ...base, dst: { ip: '2001:DB8:0:0:1:0:0:1', port: 1 }, src: '::ffff:10.1.2.3' })
    expect(decodeAll(bytes, []).header).toMatchObject({ dst: { ip: '2001:db8::1:0:0:1' }, src: '::ffff:a01:203' })
  })

  const refusals: Array<[string, number[], string]> = [
    ['length below minimum', [0, 5], 'bad-header'],
    ['length above 254', [0, 255], 'bad-header'],
    ['length 0xffff', [0xff, 0xff], 'bad-header'],
    ['version 2, refused before the body arrives', [0, 12, 2], 'unsupported-version'],
    ['version 0', [0, 12, 0], 'unsupported-version'],
    ['protocol 1', [0, 12, 1, 1, 0, 4, 10, 0, 0, 1, 0, 80, 0, 0], 'bad-header'],
    ['unknown flag', [0, 12, 1, 6, 2, 4, 10, 0, 0, 1, 0, 80, 0, 0], 'bad-header'],
    ['dst family 5', [0, 12, 1, 6, 0, 5, 10, 0, 0, 1, 0, 80, 0, 0], 'bad-header'],
    ['port 0', [0, 12, 1, 6, 0, 4, 10, 0, 0, 1, 0, 0, 0, 0], 'bad-header'],
    ['src family 7', [0, 12, 1, 6, 0, 4, 10, 0, 0, 1, 0, 80, 7, 0], 'bad-header'],
    ['trailing byte', [0, 13, 1, 6, 0, 4, 10, 0, 0, 1, 0, 80, 0, 0, 9], 'bad-header'],
    ['key runs past the body', [0, 13, 1, 6, 1, 4, 10, 0, 0, 1, 0, 80, 0, 5, 65], 'bad-header'],
    ['key without service flag', [0, 13, 1, 6, 0, 4, 10, 0, 0, 1, 0, 80, 0, 1, 65], 'bad-header'],
    ['non-printable key', [0, 13, 1, 6, 1, 4, 10, 0, 0, 1, 0, 80, 0, 1, 10], 'bad-header'],
    ['v6 dst cut short', [0, 12, 1, 6, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0], 'bad-header'],
  ]
  it.each(refusals)('refuses %s with a typed error, and keeps refusing', (_name, bytes, reason) => {
    const d = createFlowHeaderDecoder()
    let err: unknown
    try {
      d.push(new Uint8Array(bytes))
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(FlowProtocolError)
    expect((err as FlowProtocolError).reason).toBe(reason)
    expect(() => d.push(new Uint8Array([1]))).toThrow(FlowProtocolError)
  })

  it('refuses to encode what it could not decode', () => {
    expect(() => encodeFlowHeader({ ...base, dst: { ip: 'pod-a', port: 80 } })).toThrow(FlowProtocolError)
    expect(() => encodeFlowHeader({ ...base, dst: { ip: '10.0.0.1', port: 0 } })).toThrow(FlowProtocolError)
    expect(() => encodeFlowHeader({ ...base, service: true, serviceKey: 'x'.repeat(201) })).toThrow(FlowProtocolError)
    expect(() => encodeFlowHeader({ ...base, service: true, serviceKey: 'a b' })).toThrow(FlowProtocolError)
  })
})

describe('flow response codec', () => {
  it.each([{ ok: true } as const, ...FLOW_REFUSALS.map((reason) => ({ ok: false, reason }) as const)])(
    'round-trips %o with data behind it',
    (result) => {
      const d = createFlowResponseDecoder()
      const bytes = encodeFlowResponse(result)
      expect(d.push(bytes.subarray(0, 1))).toBeNull()
      expect(d.push(new Uint8Array([...bytes.subarray(1), 42]))).toEqual(result)
      expect(d.remainder).toEqual([new Uint8Array([42])])
    },
  )
  it('refuses unknown codes and versions', () => {
    expect(() => createFlowResponseDecoder().push(new Uint8Array([1, 200]))).toThrow(FlowProtocolError)
    expect(() => createFlowResponseDecoder().push(new Uint8Array([9, 0]))).toThrow(FlowProtocolError)
  })
})

describe('datagram framing', () => {
  it('splits frames across any chunking, including empty and maximal datagrams', () => {
    const grams = [new Uint8Array(0), new Uint8Array([1]), new Uint8Array(65535).fill(3), new Uint8Array(1400).fill(4)]
    const wire = new Uint8Array(grams.reduce((n, g) => n + 2 + g.length, 0))
    let o = 0
    for (const g of grams) {
      wire.set(encodeDatagram(g), o)
      o += 2 + g.length
    }
    for (const step of [1, 2, 3, 1000, wire.length]) {
      const d = createDatagramDecoder()
      const out: Uint8Array[] = []
      for (let i = 0; i < wire.length; i += step) out.push(...d.push(wire.subarray(i, i + step)))
      expect(out).toEqual(grams)
      expect(d.pendingBytes).toBe(0)
    }
  })
  it('reports a cut-off datagram and refuses to frame an oversized one', () => {
    const d = createDatagramDecoder()
    expect(d.push(new Uint8Array([0, 5, 1, 2]))).toEqual([])
    expect(d.pendingBytes).toBe(2)
    expect(() => encodeDatagram(new Uint8Array(65536))).toThrow(FlowProtocolError)
  })
})
