import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deleteNetnsWithPrefix, sh } from '../testing/netns.ts'
import { netfilterContract } from './netfilter.contract.ts'
import { createExec, createNetfilter, detectIptablesMode, type Netfilter } from './netfilter.ts'

const NS = 'pldp-contract'

describe('real netfilter (iptables-nft, ipset, ip) in a namespace honours the Netfilter contract', () => {
  let nf: Netfilter
  beforeAll(async () => {
    deleteNetnsWithPrefix(NS)
    sh(`ip netns add ${NS} && ip -n ${NS} link set lo up`)
    nf = await createNetfilter({ netns: NS })
  })
  afterAll(() => deleteNetnsWithPrefix(NS))

  it('detects nft where kube-proxy left no legacy rules', async () => {
    expect(nf.mode).toBe('nft')
    sh(`ip netns exec ${NS} iptables-legacy -t nat -N KUBE-SERVICES`)
    sh(`ip netns exec ${NS} iptables-legacy -t nat -A PREROUTING -j KUBE-SERVICES`)
    expect(await detectIptablesMode(createExec(NS))).toBe('legacy')
    sh(`ip netns exec ${NS} iptables-legacy -t nat -D PREROUTING -j KUBE-SERVICES`)
    sh(`ip netns exec ${NS} iptables-legacy -t nat -X KUBE-SERVICES`)
    expect(await detectIptablesMode(createExec(NS))).toBe('nft')
  })

  netfilterContract(() => nf)
})
