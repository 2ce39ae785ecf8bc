import { defineConfig } from 'vitest/config'

/**
 * Two projects: `unit` (pure code and loopback-only tests, run in parallel) and `lab`
 * (root, network namespaces, iptables: one file at a time, since they share the kernel).
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
          environment: 'node',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 180_000,
          hookTimeout: 180_000,
          pool: 'forks',
        },
      },
    ],
  },
})
