import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parsePortRange } from '@podlink/core'
import { describe, expect, it } from 'vitest'
import { createExitPorts, DEFAULT_PORT_RANGE, parseReservedPorts, readLocalPorts } from './exit-ports.ts'

/** A random source that returns the given draws in turn (as fractions of the range), then repeats the last. */
const draws = (range: readonly [number, number], ports: number[]) => {
  let i = 0
  return () => (ports[Math.min(i++, ports.length - 1)]! - range[0] + 0.5) / (range[1] - range[0] + 1)
}

describe('exit ports', () => {
  const range: readonly [number, number] = [40000, 40009]

  it('picks within the range, skipping reserved ports and the ports held towards the same destination', () => {
    const ports = createExitPorts({
      range,
      reserved: (p) => p === 40001,
      random: draws(range, [40001, 40002, 40003]),
      churnThreshold: -1,
    })
    ports.hold('10.244.1.2:80', 40002)
    expect(ports.pick('10.244.1.2:80')).toBe(40003)
    expect(ports.held).toBe(1)
  })

  it('a port held towards one destination is free towards another, and free again once released', () => {
    const ports = createExitPorts({ range, reserved: () => false, random: draws(range, [40005]), churnThreshold: -1 })
    ports.hold('10.244.1.2:80', 40005)
    expect(ports.pick('10.244.1.3:80')).toBe(40005)
    expect(ports.pick('10.244.1.2:80')).toBeNull()
    ports.release('10.244.1.2:80', 40005)
    ports.release('10.244.1.2:80', 40005)
    expect(ports.held).toBe(0)
    expect(ports.pick('10.244.1.2:80')).toBe(40005)
  })

  it('gives up (null: the kernel chooses) when its draws find nothing free', () => {
    const ports = createExitPorts({ range, reserved: () => true, churnThreshold: -1 })
    expect(ports.pick('10.244.1.2:80')).toBeNull()
  })

  it('leaves the choice to the kernel until more than churnThreshold connections to the destination closed within 60 s', () => {
    let now = 1000
    const ports = createExitPorts({ range, reserved: () => false, churnThreshold: 3, nowS: () => now })
    for (let i = 0; i < 3; i++) ports.closed('10.244.1.2:80')
    expect(ports.pick('10.244.1.2:80')).toBeNull()
    now += 30
    ports.closed('10.244.1.2:80')
    expect(ports.pick('10.244.1.2:80')).not.toBeNull()
    expect(ports.pick('10.244.1.3:80')).toBeNull()
    // the first three are 60 s old: 1 left in the window
    now += 30
    expect(ports.pick('10.244.1.2:80')).toBeNull()
    // a bucket reused a minute later starts from zero
    now += 30
    for (let i = 0; i < 4; i++) ports.closed('10.244.1.2:80')
    expect(ports.pick('10.244.1.2:80')).not.toBeNull()
    now += 60
    expect(ports.pick('10.244.1.2:80')).toBeNull()
  })

  it('draws spread over the whole range, ends included', () => {
    const ports = createExitPorts({ range, reserved: () => false, churnThreshold: -1 })
    const seen = new Set<number>()
    for (let i = 0; i < 2000; i++) seen.add(ports.pick('d')!)
    expect([...seen].sort()).toEqual(Array.from({ length: 10 }, (_, i) => 40000 + i))
  })
})

describe('exit ports: the node sysctls', () => {
  it('parses ip_local_port_range and refuses anything else', () => {
    expect(parsePortRange('32768\t60999\n')).toEqual([32768, 60999])
    for (const bad of [null, '', '60999 32768', '0 10', '1 70000', 'a b']) expect(parsePortRange(bad)).toBeNull()
  })

  it('parses ip_local_reserved_ports: single ports and ranges, empty reserves nothing', () => {
    const r = parseReservedPorts('8080,30000-32767\n')
    expect([8080, 30000, 31000, 32767].every(r)).toBe(true)
    expect([8079, 8081, 29999, 32768].some(r)).toBe(false)
    expect(parseReservedPorts('')(8080)).toBe(false)
    expect(parseReservedPorts('x,9000')(9000)).toBe(true)
  })

  it('reads a sysctl directory, with the defaults where a file is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'podlink-ports-'))
    try {
      expect(readLocalPorts(dir).range).toEqual(DEFAULT_PORT_RANGE)
      writeFileSync(join(dir, 'ip_local_port_range'), '40000\t40100\n')
      writeFileSync(join(dir, 'ip_local_reserved_ports'), '40050\n')
      const l = readLocalPorts(dir)
      expect(l.range).toEqual([40000, 40100])
      expect(l.reserved(40050)).toBe(true)
      expect(l.reserved(40051)).toBe(false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
