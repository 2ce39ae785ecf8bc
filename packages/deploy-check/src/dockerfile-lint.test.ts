import { describe, expect, it } from 'vitest'
import { readDeploy } from './deploy-files.ts'
import { lintDockerfile } from './dockerfile-lint.ts'

const dockerfile = readDeploy('Dockerfile')

describe('deploy/Dockerfile', () => {
  it('passes the static lint', () => {
    expect(lintDockerfile(dockerfile)).toEqual([])
  })

  it('uses the Node version the repository runs on and the packageManager pnpm', async () => {
    const rootPkg = JSON.parse(readDeploy('../package.json')) as { packageManager: string }
    expect(dockerfile).toContain(`pnpm@${rootPkg.packageManager.replace('pnpm@', '')}`)
    expect(dockerfile).toMatch(/FROM node:24\./)
  })

  it('installs the CLI as podlink and kubectl-podlink', () => {
    expect(dockerfile).toMatch(/ln -s podlink \/usr\/local\/bin\/kubectl-podlink/)
  })

  it('reports what it should (the lint can fail)', () => {
    const bad = [
      'FROM node:latest',
      'RUN pnpm install',
      'FROM node:24-slim',
      'RUN apt-get install -y iptables',
      'ENTRYPOINT podlink-agent',
    ].join('\n')
    const problems = lintDockerfile(bad).join('\n')
    for (const p of [
      /node:latest: not pinned/,
      /node:24-slim: not an exact/,
      /copies nothing/,
      /does not install ipset/,
      /--no-install-recommends/,
      /--frozen-lockfile/,
      /pnpm not pinned/,
      /build stage 0 runs as root/,
      /does not state its USER/,
      /ENTRYPOINT/,
    ])
      expect(problems).toMatch(p)
  })
})
