import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Core's layering (docs/design.md): its folders and top-level files, tests excluded, form a strict
 * order: no two import each other, directly or through others; the engines know nothing of the
 * method, the model folder, the importers or the test fixtures, and the network description nothing
 * of the engines.
 */
const root = dirname(fileURLToPath(import.meta.url));
const unitOf = (file: string) => relative(root, file).split('/')[0].replace(/\.ts$/, '');

function importGraph(): Map<string, Set<string>> {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) files.push(p);
    }
  };
  walk(root);
  const edges = new Map<string, Set<string>>();
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const [a, b] = [unitOf(f), unitOf(resolve(dirname(f), m[1]))];
      if (a === b) continue;
      if (!edges.has(a)) edges.set(a, new Set());
      edges.get(a)!.add(b);
    }
  }
  return edges;
}

describe("core's layering", () => {
  const edges = importGraph();
  const reach = (a: string, seen = new Set<string>()): Set<string> => {
    for (const b of edges.get(a) ?? []) if (!seen.has(b)) reach(b, seen.add(b));
    return seen;
  };

  it('folders and top-level files form a strict order (no cycle through any of them)', () => {
    expect(edges.size).toBeGreaterThan(8);
    const cyclic = [...edges.keys()].filter((a) => reach(a).has(a));
    expect(cyclic).toEqual([]);
  });

  it('the engines import no method, model folder, importer or test fixture; the network description no engine', () => {
    for (const forbidden of ['method', 'model', 'import', 'testing']) expect([...(edges.get('engines') ?? [])]).not.toContain(forbidden);
    expect([...(edges.get('nn') ?? [])]).not.toContain('engines');
    // And the runtime entry loads no test code.
    expect([...(edges.get('runtime') ?? [])]).not.toContain('testing');
  });
});
