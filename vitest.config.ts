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
    // expect.poll waits for something that will happen (a page re-rendered after a server round
    // trip, a job run): 1 s, vitest's default, is short on a loaded CI machine. A liveness bound,
    // not a timing claim.
    expect: { poll: { timeout: 15_000, interval: 100 } },
    hookTimeout: 120_000,
  },
});
