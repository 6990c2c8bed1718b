import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two test files at once even on a 2-core machine: most tests wait on real processes, files
    // and signals rather than compute, and the tests must hold on a loaded machine anyway.
    maxWorkers: 2,
  },
});
