import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importCycles } from './testing.js';

/**
 * Core's layering (docs/design.md): its folders and top-level files, tests excluded, form a strict
 * order: no two import each other, directly or through others; the engines know nothing of the
 * method, the model folder, the importers or the test fixtures, and the network description nothing
 * of the engines.
 */
describe("core's layering", () => {
  const { edges, cyclic } = importCycles(dirname(fileURLToPath(import.meta.url)));

  it('folders and top-level files form a strict order (no cycle through any of them)', () => {
    expect(edges.size).toBeGreaterThan(8);
    expect(cyclic).toEqual([]);
  });

  it('the engines import no method, model folder, importer or test fixture; the network description no engine', () => {
    for (const forbidden of ['method', 'model', 'import', 'testing']) expect([...(edges.get('engines') ?? [])]).not.toContain(forbidden);
    expect([...(edges.get('nn') ?? [])]).not.toContain('engines');
    // And the runtime entry loads no test code.
    expect([...(edges.get('runtime') ?? [])]).not.toContain('testing');
  });
});
