import { defineConfig } from 'vitest/config';
import SlowestFirst from './test/support/sequencer.js';

/**
 * Minutes-long tests: only `npm run test:long` (LOGWEAVER_TEST_LONG=1) runs them, so that `npm test`
 * stays within about five minutes.
 */
const LONG_TESTS = ['test/long-outage.test.ts', 'test/soak.test.ts'];
const long = process.env.LOGWEAVER_TEST_LONG === '1';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/browser/**', 'node_modules/**', ...(long ? [] : LONG_TESTS)],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    sequence: { sequencer: SlowestFirst },
  },
});
