import { defineConfig } from 'vitest/config';

// One run over every package: `pnpm test`. Each package also runs alone with `pnpm --filter <pkg> test`.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'test'],
    reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
  },
});
