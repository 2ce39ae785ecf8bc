import { beforeEach, describe } from 'vitest'
import { netfilterContract } from '../sync/netfilter.contract.ts'
import { createFakeNetfilter, type FakeNetfilter } from './fake-netfilter.ts'

describe('fake netfilter honours the Netfilter contract', () => {
  let nf: FakeNetfilter
  beforeEach(() => {
    nf = createFakeNetfilter()
  })
  netfilterContract(() => nf)
})
