import { defineConfig } from 'vitest/config';

/**
 * Two projects, one per Redis topology (see test/support/topology.ts). `single` runs every test on one
 * redis-server. `cluster` runs the suites whose behaviour depends on where keys live (state,
 * profile cache, media affinity, end-to-end calls) again on a local Redis Cluster, plus the
 * cluster-only tests in test/cluster. REDIS_TOPOLOGY=single or =cluster keeps one project.
 */
const CLUSTER_SUITES = [
  'test/cluster/**/*.test.ts',
  'test/state/conversation.test.ts',
  'test/state/session-store.test.ts',
  'test/state/call-sessions.test.ts',
  'test/state/media-calls.test.ts',
  'test/archive/profiles.test.ts',
  'test/agents/verification.test.ts',
  'test/media-e2e/media-call.test.ts',
  'test/e2e/**/*.test.ts',
];

const projects = [
  { extends: true as const, test: { name: 'single', include: ['test/**/*.test.ts'], exclude: ['test/cluster/**'] } },
  { extends: true as const, test: { name: 'cluster', include: CLUSTER_SUITES } },
].filter((p) => !process.env.REDIS_TOPOLOGY || p.test.name === process.env.REDIS_TOPOLOGY);

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Timings matter in fault and media tests; two cores are what CI has.
    maxWorkers: process.env.CI ? 2 : undefined,
    reporters: process.env.CI ? ['default'] : ['default'],
    projects,
  },
});
