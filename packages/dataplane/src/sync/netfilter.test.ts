import { describe, expect, it } from 'vitest'
import { chooseIptablesMode } from './netfilter.ts'

describe('chooseIptablesMode', () => {
  const rules = (n: number) =>
    Array.from({ length: n }, (_, i) => `-A KUBE-SERVICES -d 10.96.0.${i}/32 -j KUBE-SVC-${i}`).join('\n')
  it('defaults to nft when neither backend has kube rules', () => expect(chooseIptablesMode('', '')).toBe('nft'))
  it('prefers the backend with more KUBE-* rules', () => {
    expect(chooseIptablesMode(rules(2), rules(40))).toBe('legacy')
    expect(chooseIptablesMode(rules(40), rules(2))).toBe('nft')
    expect(chooseIptablesMode(rules(3), rules(3))).toBe('nft')
  })
  it("trusts kubelet's hint chain over counts", () => {
    expect(chooseIptablesMode(':KUBE-IPTABLES-HINT - [0:0]', rules(40))).toBe('nft')
    expect(chooseIptablesMode(rules(40), ':KUBE-KUBELET-CANARY - [0:0]')).toBe('legacy')
  })
})
