import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { parseTopology, validateTopology } from './parse-topology.ts'

const shared = new URL('../../../../../shared/lab/topologies/', import.meta.url)
const example = (f: string): string => readFileSync(new URL(f, shared), 'utf8')

const base = () => ({
  name: 't1',
  internet: '203.0.113.0/24',
  publicRanges: ['203.0.113.0/24'],
  apiServer: { ip: '203.0.113.2' },
  lans: [
    { name: 'edge1', cidr: '192.168.1.0/24', router: { wan: '203.0.113.21', nat: 'cone' } },
    { name: 'edge2', cidr: '192.168.1.0/24', router: { wan: '203.0.113.22', nat: 'symmetric' } },
  ],
  nodes: [
    { name: 'a', lan: 'edge1', ip: '192.168.1.10', podCIDR: '10.244.1.0/24' },
    { name: 'b', lan: 'edge2', ip: '192.168.1.10', podCIDR: '10.244.2.0/24' },
  ] as Record<string, unknown>[],
  pods: [] as Record<string, unknown>[],
  services: [] as Record<string, unknown>[],
})

describe('parseTopology', () => {
  it('accepts the shared examples', () => {
    for (const f of ['seed-002.yaml', 'two-sites.yaml']) {
      const r = parseTopology(example(f))
      expect(r.ok, JSON.stringify(r)).toBe(true)
    }
  })

  it('hands out pod addresses in file order from .2, skipping explicit ones', () => {
    const t = base()
    t.pods = [
      { name: 'p1', node: 'a' },
      { name: 'p2', node: 'a', ip: '10.244.1.3' },
      { name: 'p3', node: 'a' },
      { name: 'p4', node: 'b' },
    ]
    const r = validateTopology(t)
    if (!r.ok) throw new Error(r.problems.join('\n'))
    expect(r.topology.pods.map((p) => p.ips[0])).toEqual(['10.244.1.2', '10.244.1.3', '10.244.1.4', '10.244.2.2'])
    expect(r.topology.lans[0]?.gateway).toBe('192.168.1.1')
  })

  it('gives dual-stack pods one address per family', () => {
    const t = base()
    t.nodes[0] = { name: 'a', lan: 'edge1', ip: '192.168.1.10', podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'] }
    t.pods = [{ name: 'p1', node: 'a' }]
    const r = validateTopology(t)
    if (!r.ok) throw new Error(r.problems.join('\n'))
    expect(r.topology.pods[0]?.ips).toEqual(['10.244.1.2', 'fd00:10:244:1::2'])
  })

  it('warns, but accepts, overlapping podCIDRs', () => {
    const t = base()
    t.nodes[1] = { name: 'b', lan: 'edge2', ip: '192.168.1.10', podCIDR: '10.244.0.0/16' }
    const r = validateTopology(t)
    expect(r.ok).toBe(true)
    expect(r.warnings.join('\n')).toMatch(/podCIDRs 10.244.1.0\/24 and 10.244.0.0\/16 overlap/)
  })

  const cases: Array<[string, (t: ReturnType<typeof base>) => void, string[]]> = [
    [
      'address outside its LAN',
      (t) => {
        t.nodes[1] = { name: 'b', lan: 'edge1', ip: '192.168.2.10', podCIDR: '10.244.2.0/24' }
      },
      ['nodes[1].ip: 192.168.2.10 is outside lan edge1 (192.168.1.0/24)'],
    ],
    [
      'duplicate node name',
      (t) => {
        t.nodes[1]!.name = 'a'
      },
      ['nodes[1]: "a" is already the name of nodes[0]'],
    ],
    [
      'unknown lan',
      (t) => {
        t.nodes[1]!.lan = 'nope'
      },
      ['nodes[1].lan: unknown lan "nope"'],
    ],
    [
      'pod on an unknown node',
      (t) => {
        t.pods = [{ name: 'p', node: 'zz' }]
      },
      ['pods[0].node: unknown node "zz"'],
    ],
    [
      'pod named like a router',
      (t) => {
        t.pods = [{ name: 'gw-edge1', node: 'a' }]
      },
      ['pods[0]: "gw-edge1" is already the name of lans[0] (its router gw-edge1)'],
    ],
    [
      'unsupported Service protocol',
      (t) => {
        t.services = [{ name: 's', clusterIP: '10.96.0.1', selector: {}, ports: [{ port: 80, protocol: 'SCTP' }] }]
      },
      ['services[0].ports[0].protocol: "SCTP" is not supported (TCP or UDP)'],
    ],
    [
      'Service port without protocol',
      (t) => {
        t.services = [{ name: 's', clusterIP: '10.96.0.1', ports: [{ port: 80 }] }]
      },
      ['services[0].ports[0].protocol: is required (TCP or UDP)'],
    ],
    [
      'nat none LAN overlapping another',
      (t) => {
        t.lans[1]!.router = { wan: '203.0.113.22', nat: 'none' }
      },
      [
        'lans[1].cidr: 192.168.1.0/24 overlaps lan edge1 (192.168.1.0/24) and a nat: none LAN is routed on the internet',
      ],
    ],
    [
      'bad nat mode',
      (t) => {
        t.lans[0]!.router = { wan: '203.0.113.21', nat: 'full-cone' }
      },
      ['lans[0].router.nat: "full-cone" is not one of none, static, cone, symmetric, udp-blocked'],
    ],
    [
      'two hosts with one WAN address',
      (t) => {
        t.lans[1]!.router = { wan: '203.0.113.21', nat: 'cone' }
      },
      ['lans[1].router.wan: 203.0.113.21 is already used by lans[0].router.wan'],
    ],
    [
      'publicIP outside static NAT',
      (t) => {
        t.nodes[0]!.publicIP = '203.0.113.50'
      },
      ['nodes[0].publicIP: only a node in a nat: static lan has a publicIP (lan edge1 is cone)'],
    ],
    [
      'unknown field',
      (t) => {
        t.nodes[0]!.podCidr = '10.0.0.0/24'
      },
      ['nodes[0].podCidr: unknown field'],
    ],
    [
      'bad name',
      (t) => {
        ;(t as Record<string, unknown>).name = 'Way_Too_Long_Name'
      },
      ['name: "Way_Too_Long_Name" must be [a-z0-9-], at most 12 characters'],
    ],
    [
      'garbage podCIDR',
      (t) => {
        t.nodes[0]!.podCIDR = '10.244.1.7/24'
      },
      ['nodes[0].podCIDR: 10.244.1.7/24 has host bits set'],
    ],
    [
      'node on the router address',
      (t) => {
        t.nodes[0]!.ip = '192.168.1.1'
      },
      ['nodes[0].ip: 192.168.1.1 is the router address of lan edge1'],
    ],
  ]
  it.each(cases)('refuses %s with a message naming the field', (_name, mutate, expected) => {
    const t = base()
    mutate(t)
    const r = validateTopology(t)
    expect(r.ok).toBe(false)
    if (r.ok) return
    for (const e of expected)
      expect(
        r.problems.some((p) => p.startsWith(e)),
        `${e}\nin\n${r.problems.join('\n')}`,
      ).toBe(true)
  })

  it('lists every problem at once, one message each', () => {
    const t = base()
    t.nodes[0]!.ip = '10.9.9.9'
    t.pods = [{ name: 'p', node: 'nope', serve: ['http/80'] }]
    const r = parseTopology(stringify(t))
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.problems).toHaveLength(3)
  })

  it('refuses a file that is not YAML', () => {
    const r = parseTopology('name: [unclosed')
    expect(r.ok).toBe(false)
  })
})
