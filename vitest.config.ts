import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Timings matter in fault and media tests; two cores are what CI has.
    maxWorkers: process.env.CI ? 2 : undefined,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
