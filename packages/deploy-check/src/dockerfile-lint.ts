/**
 * A static lint of deploy/Dockerfile, since no Docker engine runs here to build it. Returns every
 * problem: bases pinned to an exact Node 24 bookworm-slim tag (or a digest), never `latest`; more than
 * one stage, the last copying from the build; the runtime packages the dataplane runs; production
 * dependencies from the frozen lockfile with a pinned pnpm; a non-root build stage; exec-form ENTRYPOINT.
 */

export interface Instruction {
  readonly stage: number
  readonly op: string
  readonly args: string
}

/** Instructions with continuation lines joined and comments dropped; `stage` counts FROM lines from 0. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = []
  let stage = -1
  const joined = text.replace(/\\\n/g, ' ')
  for (const raw of joined.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const m = /^(\w+)\s+(.*)$/.exec(line)
    if (!m) continue
    const op = m[1]!.toUpperCase()
    if (op === 'FROM') stage++
    out.push({ stage, op, args: m[2]!.replace(/\s+/g, ' ') })
  }
  return out
}

export const RUNTIME_PACKAGES = ['iptables', 'ipset', 'iproute2', 'conntrack', 'kmod']

export function lintDockerfile(text: string): string[] {
  const problems: string[] = []
  const ins = parseDockerfile(text)
  const froms = ins.filter((i) => i.op === 'FROM')
  const stages = froms.length
  if (stages < 2) problems.push('not multi-stage: build and runtime must be apart')
  for (const f of froms) {
    const image = f.args.split(' ')[0]!
    if (/:latest\b/.test(image) || !image.includes(':')) problems.push(`FROM ${image}: not pinned (no tag, or latest)`)
    else if (!/^node:24\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/.test(image))
      problems.push(`FROM ${image}: not an exact node:24.x.y-bookworm-slim tag`)
  }
  const last = stages - 1
  const inStage = (s: number) => ins.filter((i) => i.stage === s)
  const runtime = inStage(last)
  if (!runtime.some((i) => i.op === 'COPY' && /--from=\S+/.test(i.args)))
    problems.push('the last stage copies nothing from the build stage')
  const runtimeRuns = runtime
    .filter((i) => i.op === 'RUN')
    .map((i) => i.args)
    .join(' ; ')
  const apt = /apt-get install ([^;&|]*)/.exec(runtimeRuns)
  if (!apt) problems.push('the runtime stage installs no packages')
  else {
    const words = apt[1]!.split(' ')
    for (const p of RUNTIME_PACKAGES) if (!words.includes(p)) problems.push(`the runtime stage does not install ${p}`)
    if (!words.includes('--no-install-recommends')) problems.push('apt-get install without --no-install-recommends')
    if (!/rm -rf \/var\/lib\/apt\/lists/.test(runtimeRuns)) problems.push('apt lists left in the image')
  }
  if (/pnpm install|npm install/.test(runtimeRuns)) problems.push('the runtime stage installs packages from a registry')
  const buildRuns = ins.filter((i) => i.stage < last && i.op === 'RUN').map((i) => i.args)
  const install = buildRuns.find((r) => /pnpm install/.test(r))
  if (!install) problems.push('no pnpm install in the build stage')
  else {
    if (!install.includes('--frozen-lockfile')) problems.push('pnpm install without --frozen-lockfile')
    if (!install.includes('--prod')) problems.push('pnpm install without --prod')
  }
  if (!buildRuns.some((r) => /pnpm@\d+\.\d+\.\d+\b/.test(r))) problems.push('pnpm not pinned to an exact version')
  for (let s = 0; s < last; s++) {
    const users = inStage(s).filter((i) => i.op === 'USER')
    if (users.length === 0 || /^(0|root)\b/.test(users[users.length - 1]!.args))
      problems.push(`build stage ${s} runs as root`)
  }
  const user = runtime.filter((i) => i.op === 'USER').pop()
  if (!user) problems.push('the runtime stage does not state its USER (root must be a decision, not a default)')
  const entry = runtime.filter((i) => i.op === 'ENTRYPOINT').pop()
  if (!entry || entry.args !== '["podlink-agent"]') problems.push('ENTRYPOINT is not ["podlink-agent"] in exec form')
  return problems
}
