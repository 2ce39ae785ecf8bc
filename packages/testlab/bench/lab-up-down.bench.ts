// Prints how long a 10-node lab takes to come up and to go down (targets: < 30 s up, < 10 s down).
// Brings up its own lab `bench10` (every NAT mode, 10 nodes, 10 serving pods), three times.
import { labDown } from '../src/lab/lab-down.ts'
import { labUp } from '../src/lab/lab-up.ts'
import { validateTopology } from '../src/topology/parse-topology.ts'

const runs = process.argv.includes('--quick') ? 1 : 3
const nats = ['none', 'cone', 'cone', 'symmetric', 'static', 'udp-blocked'] as const
const raw = {
  name: 'bench10',
  internet: '203.0.113.0/24',
  publicRanges: ['203.0.113.0/24'],
  apiServer: { ip: '203.0.113.2' },
  lans: nats.map((nat, i) => ({
    name: `lan${i}`,
    cidr: i === 0 ? '10.0.8.0/24' : '192.168.1.0/24',
    router: { wan: `203.0.113.${20 + i}`, nat, ...(i === 1 ? { delayMs: 5 } : {}) },
  })),
  nodes: Array.from({ length: 10 }, (_, i) => {
    const lan = i === 0 ? 0 : 1 + (i % 5)
    return {
      name: `n${i}`,
      lan: `lan${lan}`,
      ip: lan === 0 ? `10.0.8.${10 + i}` : `192.168.1.${10 + i}`,
      ...(nats[lan] === 'static' ? { publicIP: `203.0.113.${100 + i}` } : {}),
      podCIDR: `10.244.${i}.0/24`,
      ...(i === 0 ? { labels: { 'podlink.io/relay': 'true' } } : {}),
    }
  }),
  pods: Array.from({ length: 10 }, (_, i) => ({
    name: `p${i}`,
    node: `n${i}`,
    labels: { app: 'echo' },
    serve: ['tcp/8080', 'udp/9000'],
  })),
  services: [
    {
      name: 'echo',
      clusterIP: '10.96.0.10',
      selector: { app: 'echo' },
      ports: [
        { name: 'tcp', port: 80, targetPort: 8080, protocol: 'TCP' },
        { name: 'udp', port: 9000, targetPort: 9000, protocol: 'UDP' },
      ],
    },
  ],
  flannel: 'all-nodes',
}
const r = validateTopology(raw)
if (!r.ok) throw new Error(r.problems.join('\n'))

await labDown('bench10')
const rows: string[] = []
for (let i = 0; i < runs; i++) {
  const up = await labUp(r.topology, { agents: false })
  const down = await labDown('bench10')
  rows.push(
    `run ${i + 1}: up ${(up.totalMs / 1000).toFixed(2)} s (${Object.entries(up.timings)
      .map(([k, v]) => `${k} ${v} ms`)
      .join(
        ', ',
      )}); down ${(down.ms / 1000).toFixed(2)} s (${down.namespaces} namespaces, ${down.processes} processes)`,
  )
}
console.log(`lab up/down, 10 nodes, 6 LANs, 10 pods (${runs} runs; targets up < 30 s, down < 10 s)`)
for (const row of rows) console.log(`  ${row}`)
