// `./run demo`: brings up the seed-002 lab (a public cloud node, two edge nodes behind NAT) and shows
// what crosses the NAT. Leaves the lab up and prints the command that takes it down.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

const topology = '../shared/lab/topologies/seed-002.yaml'
const agents = existsSync('packages/agent/src/main.ts') && process.env.PODLINK_DEMO_AGENTS !== '0'
const lab = (...args: string[]): number =>
  spawnSync(process.execPath, ['packages/testlab/src/cli/main.ts', ...args], { stdio: 'inherit' }).status ?? 1
const say = (text: string): void => console.log(`\n\x1b[1m## ${text}\x1b[0m`)

if (!existsSync(topology)) {
  console.error(`demo: ${topology} is missing: the demo needs ../shared beside the checkout`)
  process.exit(1)
}
lab('down', 'seed002')
say(`bringing up seed-002 ${agents ? 'with podlink agents' : 'without agents'}`)
if (lab('up', topology, ...(agents ? [] : ['--no-agents'])) !== 0) process.exit(1)
lab('kubectl', '--lab', 'seed002', '--', 'get', 'nodes', '-o', 'wide')

say('same LAN: edge pod nginx-1 -> edge pod nginx-2 (10.244.2.2), flannel VXLAN inside the edge LAN')
lab('probe', '--lab', 'seed002', 'nginx-1', '10.244.2.2:80', '--count', '3')
say('across the NAT: edge pod nginx-1 -> cloud pod nginx-0 (10.244.0.2)')
lab('probe', '--lab', 'seed002', 'nginx-1', '10.244.0.2:80', '--count', '3', '--timeout', '1000')
say('across the NAT: cloud pod nginx-0 -> edge pod nginx-1 (10.244.1.2)')
lab('probe', '--lab', 'seed002', 'nginx-0', '10.244.1.2:80', '--count', '3', '--timeout', '1000')
if (agents) {
  say('through the nginx ClusterIP (10.96.0.80:80) from the cloud pod: endpoints on both sides of the NAT')
  lab('probe', '--lab', 'seed002', 'nginx-0', '10.96.0.80:80', '--count', '3')
  say('from a host process on the edge node node1 to the cloud pod')
  lab('probe', '--lab', 'seed002', 'node1', '10.244.0.2:80', '--count', '3')
  for (const node of ['node1', 'master']) {
    say(`the peer table on ${node} (podlink peers)`)
    lab('exec', '--lab', 'seed002', node, '--', process.execPath, 'packages/cli/src/main.ts', 'peers')
  }
  say('what the agent on node1 knows (podlink status)')
  lab('exec', '--lab', 'seed002', 'node1', '--', process.execPath, 'packages/cli/src/main.ts', 'status')
} else {
  console.log('\nWithout podlink, flannel programs VXLAN routes to every node, but the cloud cannot reach the edge')
  console.log("nodes' 192.168.1.x addresses behind NAT: cross-site pod traffic is a black hole.")
}
console.log('\nThe lab stays up. Explore it with `pnpm lab status`, `pnpm lab probe`, `pnpm lab exec`;')
console.log('take it down with:  pnpm lab down seed002')
