import { describe, expect, it } from 'vitest'
import { checkExit, type ExitPolicy, endpointKey } from './check-exit.ts'

const policy: ExitPolicy = {
  ownPodCIDRs: ['10.244.3.0/24', 'fd00:10:244:3::/64'],
  servedEndpoints: new Set([endpointKey('tcp', '192.168.1.10', 10250), endpointKey('udp', '10.96.5.5', 53)]),
  forbidden: ['192.168.1.10', '203.0.113.22', '2001:db8::10'],
}

const table: Array<[string, string, number, boolean, 'tcp' | 'udp', string]> = [
  ['pod in own CIDR', '10.244.3.7', 80, false, 'tcp', 'ok'],
  ['v6 pod in own CIDR', 'fd00:10:244:3::9', 80, false, 'udp', 'ok'],
  ['v4-mapped pod', '::ffff:10.244.3.7', 80, false, 'tcp', 'ok'],
  ['pod of another node', '10.244.4.7', 80, false, 'tcp', 'not-my-pod'],
  ['service endpoint elsewhere', '10.244.4.7', 80, true, 'tcp', 'not-an-endpoint'],
  ['served hostNetwork endpoint on the node address', '192.168.1.10', 10250, true, 'tcp', 'ok'],
  ['same address, other port', '192.168.1.10', 22, true, 'tcp', 'forbidden-destination'],
  ['same address and port, other protocol', '192.168.1.10', 10250, true, 'udp', 'forbidden-destination'],
  ['served endpoint outside pod CIDRs', '10.96.5.5', 53, true, 'udp', 'ok'],
  ['node WAN address', '203.0.113.22', 4001, false, 'tcp', 'forbidden-destination'],
  ['node v6 address', '2001:db8::10', 80, false, 'tcp', 'forbidden-destination'],
  ['loopback', '127.0.0.1', 9100, false, 'tcp', 'forbidden-destination'],
  ['loopback v6', '::1', 9100, false, 'tcp', 'forbidden-destination'],
  ['metadata', '169.254.169.254', 80, false, 'tcp', 'forbidden-destination'],
  ['v4-mapped metadata', '::ffff:169.254.169.254', 80, false, 'tcp', 'forbidden-destination'],
  ['AWS v6 metadata', 'fd00:ec2::254', 80, false, 'tcp', 'forbidden-destination'],
  ['link-local v6', 'fe80::1', 80, false, 'tcp', 'forbidden-destination'],
  ['unspecified', '0.0.0.0', 80, false, 'tcp', 'forbidden-destination'],
  ['broadcast', '255.255.255.255', 80, false, 'udp', 'forbidden-destination'],
  ['multicast', '224.0.0.251', 5353, false, 'udp', 'forbidden-destination'],
  ['not an address', 'pod-a', 80, false, 'tcp', 'forbidden-destination'],
]

describe('checkExit', () => {
  it.each(table)('%s', (_name, ip, port, service, protocol, want) => {
    const got = checkExit({ ip, port, service, protocol }, policy)
    expect(got.ok ? 'ok' : got.reason).toBe(want)
  })
  it('a loopback endpoint stays forbidden even when listed as served', () => {
    const p: ExitPolicy = { ...policy, servedEndpoints: new Set([endpointKey('tcp', '127.0.0.1', 80)]) }
    expect(checkExit({ ip: '127.0.0.1', port: 80, service: true, protocol: 'tcp' }, p)).toEqual({
      ok: false,
      reason: 'forbidden-destination',
    })
  })
  it('throws a typed error for a malformed CIDR', () => {
    expect(() =>
      checkExit(
        { ip: '10.0.0.1', port: 1, service: false, protocol: 'tcp' },
        { ...policy, ownPodCIDRs: ['10.0.0.0/33'] },
      ),
    ).toThrow(/Cannot use "10.0.0.0\/33" as a CIDR/)
  })
})
