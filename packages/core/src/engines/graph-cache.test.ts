import { describe, expect, it } from 'vitest';
import { GraphCache } from './graph-cache.js';

/** A stand-in compiled graph that records its release. */
function graph(name: string, released: string[]) {
  return { name, dispose: () => void released.push(name) };
}

describe('GraphCache', () => {
  it('keeps the fixed graphs, bounds those keyed by requests, and releases an evicted graph only once its runs finish', async () => {
    const released: string[] = [];
    const cache = new GraphCache(2);
    let builds = 0;
    const build = (name: string) => () => (builds++, Promise.resolve(graph(name, released)));
    expect(await cache.with('denoiser', build('denoiser'), async (g) => g.name)).toBe('denoiser');
    // A run of 'a' still going while 'b' and 'c' push it out.
    let finish!: () => void;
    const running = cache.with('a', build('a'), (g) => new Promise<string>((r) => (finish = () => r(g.name))), { bounded: true });
    await new Promise((r) => setTimeout(r, 0));
    await cache.with('b', build('b'), async () => 0, { bounded: true });
    await cache.with('c', build('c'), async () => 0, { bounded: true });
    expect(released).toEqual([]);
    finish();
    expect(await running).toBe('a');
    await new Promise((r) => setTimeout(r, 0));
    expect(released).toEqual(['a']);
    expect(cache.size).toBe(3);
    // A hit builds nothing; the fixed graph is never evicted.
    await cache.with('c', build('c'), async () => 0, { bounded: true });
    for (const k of ['d', 'e', 'f']) await cache.with(k, build(k), async () => 0, { bounded: true });
    expect(builds).toBe(7);
    await new Promise((r) => setTimeout(r, 0));
    expect(released).toEqual(['a', 'b', 'c', 'd']);
    await cache.dispose();
    expect(released.sort()).toEqual(['a', 'b', 'c', 'd', 'denoiser', 'e', 'f']);
  });

  it('a graph that failed to compile is tried again', async () => {
    const cache = new GraphCache(2);
    await expect(
      cache.with(
        'x',
        () => Promise.reject(new Error('no')),
        async () => 0,
        { bounded: true },
      ),
    ).rejects.toThrow('no');
    await new Promise((r) => setTimeout(r, 0));
    expect(
      await cache.with(
        'x',
        () => Promise.resolve({ dispose() {} }),
        async () => 1,
        { bounded: true },
      ),
    ).toBe(1);
  });
});
