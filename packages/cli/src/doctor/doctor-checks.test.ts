import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parsePortRange } from '@podlink/core'
import { describe, expect, it } from 'vitest'
import { noColour } from '../render/colour.ts'
import { FIXTURE_NOW, fixtureStatus } from '../testing/fixture-status.ts'
import {
  type CheckLevel,
  checkAgentSocket,
  checkApi,
  checkClockSkew,
  checkDataplane,
  checkExitPorts,
  checkIpset,
  checkIptablesMode,
  checkMarks,
  checkPsk,
  type DoctorCheck,
  kernelChecks,
  runDoctorChecks,
} from './doctor-checks.ts'
import { parseIptablesSave, parseKernelConfig, parseModuleList, parseSysctlInt, tcpFacts } from './gather-node-facts.ts'
import type { NodeFacts } from './node-facts.ts'
import { renderDoctor } from './render-doctor.ts'

const good: NodeFacts = {
  now: FIXTURE_NOW,
  socketPath: '/run/podlink/agent.sock',
  status: fixtureStatus,
  statusError: null,
  iptables: {
    defaultMode: 'nft',
    nftRules: 120,
    legacyRules: 0,
    kubeProxyIn: ['nft'],
    kubeMarkMasks: [0x4000, 0x8000],
  },
  ipset: true,
  kernel: {
    release: '6.1.0-18-amd64',
    config: {
      CONFIG_NETFILTER_XT_TARGET_REDIRECT: 'm',
      CONFIG_NF_CONNTRACK: 'm',
      CONFIG_NF_CT_NETLINK: 'm',
      CONFIG_IP_SET_HASH_NET: 'm',
      CONFIG_IP_SET_HASH_IPPORT: 'm',
      CONFIG_NETFILTER_XT_SET: 'm',
    },
    loaded: [],
    builtin: null,
    loadable: null,
  },
  psk: { path: '/etc/podlink/psk/swarm.key', exists: true, mode: 0o600 },
  tcp: { timestamps: 1, portRange: [32768, 60999] },
}

type Case = [string, DoctorCheck, Partial<NodeFacts>, CheckLevel, RegExp | null]
const status = fixtureStatus
const noConfig = { ...good.kernel, config: null }

describe('doctor checks', () => {
  it.each<Case>([
    ['agent answers', checkAgentSocket, {}, 'ok', null],
    ['agent silent', checkAgentSocket, { status: null, statusError: 'Cannot reach' }, 'fail', /ds\/podlink-agent/],
    ['api synced', checkApi, {}, 'ok', null],
    [
      'api stale',
      checkApi,
      { status: { ...status, view: { ...status.view, stale: true } } },
      'fail',
      /route to the API/,
    ],
    ['api not synced', checkApi, { status: { ...status, view: { ...status.view, synced: false } } }, 'warn', /wait/],
    ['api without agent', checkApi, { status: null }, 'skip', null],
    ['no skew reported', checkClockSkew, {}, 'skip', null],
    [
      'small skew',
      checkClockSkew,
      { status: { ...status, view: { ...status.view, apiClockSkewMs: 400 } } },
      'ok',
      null,
    ],
    [
      '5 s skew',
      checkClockSkew,
      { status: { ...status, view: { ...status.view, apiClockSkewMs: -5000 } } },
      'warn',
      /timedatectl/,
    ],
    [
      '2 min skew',
      checkClockSkew,
      { status: { ...status, view: { ...status.view, apiClockSkewMs: 120_000 } } },
      'fail',
      /ntp/,
    ],
    ['dataplane healthy', checkDataplane, {}, 'ok', null],
    [
      'dataplane unhealthy',
      checkDataplane,
      { status: { ...status, dataplane: { ...status.dataplane, healthy: false, lastError: 'restore failed' } } },
      'fail',
      /iptables-restore/,
    ],
    ['iptables same as kube-proxy', checkIptablesMode, {}, 'ok', null],
    [
      'no iptables',
      checkIptablesMode,
      { iptables: { ...good.iptables, defaultMode: null } },
      'fail',
      /apt-get install iptables/,
    ],
    [
      'kube-proxy in legacy, agent nft',
      checkIptablesMode,
      { iptables: { ...good.iptables, kubeProxyIn: ['legacy'] } },
      'fail',
      /update-alternatives --set iptables \/usr\/sbin\/iptables-legacy/,
    ],
    [
      'kube-proxy in both',
      checkIptablesMode,
      { iptables: { ...good.iptables, kubeProxyIn: ['nft', 'legacy'] } },
      'fail',
      /flush the unused backend/,
    ],
    [
      'rules in both backends',
      checkIptablesMode,
      { iptables: { ...good.iptables, legacyRules: 4 } },
      'warn',
      /remove the unused one/,
    ],
    ['ipset present', checkIpset, {}, 'ok', null],
    ['ipset missing', checkIpset, { ipset: false }, 'fail', /apt-get install ipset/],
    ['marks clear', checkMarks, {}, 'ok', null],
    [
      'marks overlap a custom kube-proxy bit',
      checkMarks,
      { iptables: { ...good.iptables, kubeMarkMasks: [0x2000] } },
      'fail',
      /--bypass-mark/,
    ],
    [
      'agent reports overlapping marks',
      checkMarks,
      { status: { ...status, dataplane: { ...status.dataplane, marks: { bypass: 0x4000, tproxy: 0x1000 } } } },
      'fail',
      /PODLINK_BYPASS_MARK/,
    ],
    ['psk 0600', checkPsk, {}, 'ok', null],
    ['psk 0400', checkPsk, { psk: { ...good.psk, mode: 0o400 } }, 'ok', null],
    ['psk 0644', checkPsk, { psk: { ...good.psk, mode: 0o644 } }, 'fail', /chmod 0600/],
    ['psk missing', checkPsk, { psk: { ...good.psk, exists: false, mode: null } }, 'fail', /Secret/],
    ['redirect via config', kernelChecks[0]!, {}, 'ok', null],
    [
      'redirect as a loadable module',
      kernelChecks[0]!,
      { kernel: { ...noConfig, loadable: ['xt_REDIRECT'] } },
      'ok',
      null,
    ],
    ['conntrack loaded', kernelChecks[1]!, { kernel: { ...noConfig, loaded: ['nf_conntrack'] } }, 'ok', null],
    [
      'conntrack netlink built in',
      kernelChecks[2]!,
      { kernel: { ...noConfig, builtin: ['nf_conntrack_netlink'] } },
      'ok',
      null,
    ],
    [
      'conntrack netlink missing',
      kernelChecks[2]!,
      { kernel: { ...noConfig, builtin: [], loadable: ['xt_mark'] } },
      'fail',
      /linux-modules-extra-6\.1\.0-18-amd64/,
    ],
    ['kernel unknown', kernelChecks[5]!, { kernel: { ...noConfig } }, 'warn', /modprobe xt_set/],
    ['exit ports: timestamps on', checkExitPorts, {}, 'ok', null],
    [
      'exit ports: timestamps on, no random offsets',
      checkExitPorts,
      { tcp: { timestamps: 2, portRange: [32768, 60999] } },
      'ok',
      null,
    ],
    [
      'exit ports: timestamps off',
      checkExitPorts,
      { tcp: { timestamps: 0, portRange: [32768, 60999] } },
      'warn',
      /sysctl -w net\.ipv4\.tcp_timestamps=1/,
    ],
    ['exit ports: unreadable', checkExitPorts, { tcp: { timestamps: null, portRange: [32768, 60999] } }, 'skip', null],
  ])('%s', (_, check, patch, level, fix) => {
    const r = check({ ...good, ...patch })
    expect(r.level).toBe(level)
    if (fix) expect(r.fix).toMatch(fix)
  })

  it('a good node passes everything (clock skipped), and renders a tally', () => {
    const results = runDoctorChecks(good)
    expect(results.filter((r) => r.level === 'fail' || r.level === 'warn')).toEqual([])
    expect(renderDoctor(results, noColour)).toMatch(/0 failed, 0 warnings, \d+ ok, 1 skipped$/)
  })

  it('exit ports: the warning names the sustained rate the port range allows', () => {
    const r = checkExitPorts({ ...good, tcp: { timestamps: 0, portRange: [32768, 60999] } })
    expect(r.detail).toMatch(/TCP timestamps off, ports 32768-60999: .* more than ~470 new connections a second/)
    expect(checkExitPorts({ ...good, tcp: { timestamps: 0, portRange: [1024, 65535] } }).detail).toMatch(/~1075 new/)
  })

  it('renders every failure with its fix', () => {
    const out = renderDoctor(runDoctorChecks({ ...good, ipset: false, psk: { ...good.psk, mode: 0o644 } }), noColour)
    expect(out).toContain('FAIL  ipset present: ipset not found')
    expect(out).toContain('      fix: apt-get install ipset')
    expect(out).toContain('2 failed')
  })
})

describe('fact parsers', () => {
  it('parseSysctlInt and parsePortRange read /proc/sys values and refuse anything else', () => {
    expect(parseSysctlInt('2\n')).toBe(2)
    expect(parseSysctlInt('1')).toBe(1)
    for (const bad of [null, '', 'x', '1 2', '-1']) expect(parseSysctlInt(bad)).toBeNull()
    expect(parsePortRange('32768\t60999\n')).toEqual([32768, 60999])
    expect(parsePortRange('1024 65535')).toEqual([1024, 65535])
    for (const bad of [null, '', '60999 32768', '1 70000', '32768', 'a b']) expect(parsePortRange(bad)).toBeNull()
  })

  it('tcpFacts reads the files of a sysctl directory, null where one is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'podlink-sysctl-'))
    try {
      writeFileSync(join(dir, 'tcp_timestamps'), '1\n')
      expect(tcpFacts(dir)).toEqual({ timestamps: 1, portRange: null })
      writeFileSync(join(dir, 'ip_local_port_range'), '32768\t60999\n')
      expect(tcpFacts(dir)).toEqual({ timestamps: 1, portRange: [32768, 60999] })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('parseIptablesSave counts rules, finds KUBE-SERVICES and kube-proxy mark masks', () => {
    const save = [
      '*nat',
      ':KUBE-SERVICES - [0:0]',
      ':KUBE-MARK-MASQ - [0:0]',
      '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
      '-A PREROUTING -j KUBE-SERVICES',
      'COMMIT',
    ].join('\n')
    expect(parseIptablesSave(save)).toEqual({ rules: 2, kubeServices: true, kubeMarkMasks: [0x4000] })
  })
  it('parseKernelConfig keeps set options only', () => {
    expect(parseKernelConfig('CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=m\n')).toEqual({
      CONFIG_A: 'y',
      CONFIG_C: 'm',
    })
  })
  it('parseModuleList reads modules.builtin and modules.dep lines', () => {
    expect(
      parseModuleList(
        'kernel/net/netfilter/xt_socket.ko\nkernel/net/netfilter/xt_TPROXY.ko.xz: kernel/net/ipv4/nf-tproxy-ipv4.ko.xz\n',
      ),
    ).toEqual(['xt_socket', 'xt_TPROXY'])
  })
})
