// `pnpm build`: the agent and CLI bundles (see packages/testlab/src/build/bundle.ts).
import { BUNDLES, buildBundle } from '../packages/testlab/src/build/bundle.ts'

for (const b of BUNDLES) {
  const started = performance.now()
  buildBundle(b)
  console.log(`built ${b.out} in ${Math.round(performance.now() - started)} ms`)
}
