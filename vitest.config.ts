import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Vitest's default for `run` is one worker fewer than the CPUs: one on a two-core machine, where
    // a file then spends much of its time waiting on the server and CLI processes it starts while
    // the second core idles. Two files at a time keep both cores busy; more only queue for them.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
