import { defineConfig } from 'vitest/config';
import { REGEX_NODE_FLAGS } from './src/query/regex-flags.js';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'clients/node/src/**/*.test.ts'],
    // Test processes run regexes as `npm start` does (user regexes on the fast engine, src/query/user-regex.ts).
    execArgv: [...REGEX_NODE_FLAGS],
    // @sluice/client is used as apps use it (built JavaScript): compiled once before the tests.
    globalSetup: ['test/support/build-client.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
