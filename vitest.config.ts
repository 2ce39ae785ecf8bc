import { defineConfig } from 'vitest/config'

/**
 * Three projects: `unit` (pure code and loopback-only tests, run in parallel), `lab` (root, network namespaces,
 * iptables: one file at a time, since they share the kernel) and `faults` (the fault suite, `pnpm test:faults`).
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts'],
          exclude: ['**/*.lab.test.ts', '**/node_modules/**'],
          environment: 'node',
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'lab',
          include: ['test/**/*.test.ts', 'packages/*/src/**/*.lab.test.ts'],
          // The fault suite (issue 9) runs on its own: `pnpm test:faults`, about 15 minutes.
          exclude: ['test/faults/**', '**/node_modules/**'],
          environment: 'node',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 180_000,
          hookTimeout: 180_000,
          pool: 'forks',
        },
      },
      {
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          environment: 'node',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 600_000,
          hookTimeout: 300_000,
          pool: 'forks',
        },
      },
    ],
  },
})
