import { describe, expect, it } from 'vitest'
import { createFlowResponseDecoder, encodeFlowResponse } from './flow-response.ts'
import { FLOW_PROTOCOL, FlowProtocolError } from './flow-types.ts'
import { selectEchoDecoder, selectLine } from './select-echo.ts'

const echo = (): Uint8Array => new Uint8Array([...selectLine('/multistream/1.0.0'), ...selectLine(FLOW_PROTOCOL)])

describe('selectEchoDecoder', () => {
  it('encodes a line as multistream-select does: varint length, text, newline', () => {
    expect([...selectLine('na')]).toEqual([3, 0x6e, 0x61, 0x0a])
    const long = selectLine('x'.repeat(200))
    expect([long[0], long[1]]).toEqual([0xc9, 0x01])
    expect(long.length).toBe(2 + 201)
  })

  it('skips the echoed selection, then reads the answer and keeps what follows, however it is split', () => {
    const wire = new Uint8Array([...echo(), ...encodeFlowResponse({ ok: true }), 7, 8, 9])
    for (let cut = 1; cut < wire.length; cut++) {
      const d = selectEchoDecoder(FLOW_PROTOCOL, createFlowResponseDecoder())
      const first = d.push(wire.subarray(0, cut))
      const second = d.push(wire.subarray(cut))
      expect(first ?? second).toEqual({ ok: true })
      expect(Buffer.concat(d.remainder.map((r) => Buffer.from(r)))).toEqual(Buffer.from([7, 8, 9]))
    }
  })

  it('passes a refusal through after the echo', () => {
    const d = selectEchoDecoder(FLOW_PROTOCOL, createFlowResponseDecoder())
    expect(
      d.push(new Uint8Array([...echo(), ...encodeFlowResponse({ ok: false, reason: 'forbidden-destination' })])),
    ).toEqual({
      ok: false,
      reason: 'forbidden-destination',
    })
  })

  it('names the protocol when the listener answers na', () => {
    const d = selectEchoDecoder(FLOW_PROTOCOL, createFlowResponseDecoder())
    const wire = new Uint8Array([...selectLine('/multistream/1.0.0'), ...selectLine('na')])
    expect(() => d.push(wire)).toThrow(FlowProtocolError)
    expect(() => selectEchoDecoder(FLOW_PROTOCOL, createFlowResponseDecoder()).push(wire)).toThrow(
      /did not accept \/podlink\/flow\/1 .*na \(not supported\)/,
    )
  })

  it('rejects garbage in place of the selection answer', () => {
    const d = selectEchoDecoder(FLOW_PROTOCOL, createFlowResponseDecoder())
    expect(() => d.push(Uint8Array.of(1, 0))).toThrow(/did not accept/)
  })
})
