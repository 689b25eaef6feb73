import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importCycles } from '@rdc/core/testing';
import { describe, expect, it } from 'vitest';

/** The attacks package's layering (docs/design.md): no import runs back up a layer. */
describe("attacks' layering", () => {
  const { edges, cyclic } = importCycles(dirname(fileURLToPath(import.meta.url)));

  it('folders and top-level files form a strict order (no cycle through any of them)', () => {
    expect(edges.size).toBeGreaterThan(4);
    expect(cyclic).toEqual([]);
  });

  it('the evaluation imports no one-image attack; the attacks no evaluation', () => {
    expect([...(edges.get('eval') ?? [])]).not.toContain('one-image');
    expect([...(edges.get('attacks') ?? [])]).not.toContain('eval');
  });
});
