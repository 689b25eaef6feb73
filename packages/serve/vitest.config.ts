import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'serve',
    include: ['src/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
