// Sync cost for a large view: 5,000 nodes (one IPv4 and one IPv6 pod CIDR each) and 2,000 Services (3,000 ports).
// Prints the pure part (computeRuleset + renderRestore), a real iptables-restore + ipset restore of it inside a
// throwaway namespace, a full createDataplane start and an unchanged re-sync, and the number of rules in our chains.
// Run as root: node packages/dataplane/bench/sync.bench.ts
import { performance } from 'node:perf_hooks'
import type { RouteEntry, ServiceEntry } from '@podlink/core'
import { computeRuleset, createDataplane, createNetfilter, renderRestore } from '../src/index.ts'
import { deleteNetnsWithPrefix, sh } from '../src/testing/index.ts'

const NODES = 5000
const SERVICES = 2000
const NS = 'pldp-bench'

function view(): { routes: RouteEntry[]; services: ServiceEntry[] } {
  const routes: RouteEntry[] = []
  for (let i = 0; i < NODES; i++) {
    const cls = i === 0 ? 'local' : i < 50 ? 'lan' : i % 997 === 0 ? 'conflict' : 'mesh'
    routes.push({ cidr: `10.${64 + (i >> 8)}.${i & 255}.0/24`, family: 4, class: cls, node: `node-${i}`, reason: '' })
    routes.push({ cidr: `fd00:${i.toString(16)}::/64`, family: 6, class: cls, node: `node-${i}`, reason: '' })
  }
  const services: ServiceEntry[] = []
  for (let i = 0; i < SERVICES; i++) {
    const ip = `10.96.${i >> 8}.${i & 255}`
    for (const [port, protocol] of i % 2
      ? ([[80, 'tcp']] as const)
      : ([
          [53, 'udp'],
          [53, 'tcp'],
        ] as const)) {
      services.push({
        service: `ns/svc-${i}`,
        portName: `p${port}`,
        clusterIP: ip,
        port,
        protocol,
        endpoints: [],
        sessionAffinity: 'None',
        affinityTimeoutSeconds: 10800,
        offLan: i % 3 !== 0,
      })
    }
  }
  return { routes, services }
}

const ms = (t0: number) => (performance.now() - t0).toFixed(1)
const tables = view()

// Warm the JIT once, as the agent's loop would be after its first sync.
renderRestore(computeRuleset(tables, { kubeProxy: true }))
let t0 = performance.now()
const ruleset = computeRuleset(tables, { kubeProxy: true })
const computeMs = ms(t0)
t0 = performance.now()
const rendered = renderRestore(ruleset)
const renderMs = ms(t0)
const members = ruleset.families.flatMap((f) => f.sets).reduce((n, s) => n + s.members.length, 0)

deleteNetnsWithPrefix(NS)
sh(`ip netns add ${NS} && ip -n ${NS} link set lo up`)
try {
  const nf = await createNetfilter({ netns: NS })
  t0 = performance.now()
  await nf.ipsetRestore(rendered.ipset)
  const ipsetMs = ms(t0)
  // The first sync also inserts the jumps: render with the fixes planJumps would produce on an empty kernel.
  const dp = createDataplane({ netfilter: nf }, { kubeProxy: true })
  t0 = performance.now()
  await dp.start(tables)
  const startMs = ms(t0)
  t0 = performance.now()
  await nf.restore(4, rendered.iptables.get(4) ?? '')
  await nf.restore(6, rendered.iptables.get(6) ?? '')
  const restoreMs = ms(t0)
  t0 = performance.now()
  await dp.flush()
  const resyncMs = ms(t0)
  const st = dp.status()
  await dp.stop()
  console.log(
    `view: ${NODES} nodes x 2 families, ${SERVICES} Services (${tables.services.length} ports); ${members} set members`,
  )
  console.log(`computeRuleset: ${computeMs} ms   renderRestore: ${renderMs} ms`)
  console.log(`ipset restore (all sets): ${ipsetMs} ms   iptables-restore + ip6tables-restore: ${restoreMs} ms`)
  console.log(`createDataplane start (cleanup + compute + save + ipset + restore x2 + ip rules): ${startMs} ms`)
  console.log(`unchanged re-sync (save x2, verify, no write): ${resyncMs} ms; writes=${st.writes}`)
  console.log(`rules in our chains (both families, nat + mangle): ${rendered.ruleCount} (target < 50)`)
  console.log(`backend: iptables-${nf.mode}`)
} finally {
  deleteNetnsWithPrefix(NS)
}
