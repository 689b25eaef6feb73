import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importCycles } from '@rdc/core/testing';
import { describe, expect, it } from 'vitest';

/**
 * Serve's layering (docs/design.md): contract, then http, the image decoding and middleware, then
 * the service (the models and their verbs), then routes, app, server: no import runs back up.
 */
describe("serve's layering", () => {
  const { edges, cyclic } = importCycles(dirname(fileURLToPath(import.meta.url)));

  it('folders and top-level files form a strict order (no cycle through any of them)', () => {
    expect(edges.size).toBeGreaterThan(6);
    expect(cyclic).toEqual([]);
  });

  it('the contract imports nothing of the server; the service nothing of the routes', () => {
    expect([...(edges.get('contract') ?? [])]).toEqual([]);
    for (const above of ['routes', 'app', 'server', 'middleware']) expect([...(edges.get('service') ?? [])]).not.toContain(above);
  });
});
