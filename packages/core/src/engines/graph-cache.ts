/**
 * The compiled graphs of one network, by key: the few fixed ones (the denoiser, the DC chunk and
 * its gradient, LM's gradient) kept for the network's life, and those keyed by something a request
 * chooses (the batch graph of a level count, LM unrolled for a preset) in a least-recently-used list
 * of at most `max` entries. Each compiled graph holds the network's weights (inline), so the list
 * bounds memory at about `max` × the weights' size; an evicted graph is released once the runs
 * using it have finished.
 *
 * @example
 * const graphs = new GraphCache(4);
 * const out = await graphs.with(`dcBatch:${s}`, () => engine.compile(g, { weights }), (f) => f.run(feeds), { bounded: true });
 */
import { LRUCache } from 'lru-cache';

interface Entry {
  graph: Promise<{ dispose(): void }>;
  /** Runs using it now. */
  active: number;
  evicted: boolean;
}

/** How many graphs keyed by a request a network keeps (each about the size of its weights). */
const REQUEST_GRAPHS = 4;

export class GraphCache {
  private readonly kept = new Map<string, Entry>();
  private readonly recent: LRUCache<string, Entry>;
  private closing = false;

  constructor(readonly max = REQUEST_GRAPHS) {
    this.recent = new LRUCache<string, Entry>({
      max,
      dispose: (e) => {
        if (this.closing) return;
        e.evicted = true;
        if (e.active === 0) release(e);
      },
    });
  }

  /** Graphs compiled now (kept and recent). */
  get size(): number {
    return this.kept.size + this.recent.size;
  }

  /**
   * Runs `use` on the graph of `key`, compiled by `build` the first time; `bounded`: the key comes
   * from a request (the least recently used of those is released past `max`).
   */
  async with<F extends { dispose(): void }, R>(key: string, build: () => Promise<F>, use: (f: F) => Promise<R>, o: { bounded?: boolean } = {}): Promise<R> {
    const store = o.bounded ? this.recent : this.kept;
    let e = store.get(key);
    if (!e) {
      e = { graph: build(), active: 0, evicted: false };
      // A graph that failed to compile is not kept: the next call tries again.
      e.graph.catch(() => store.delete(key));
      store.set(key, e);
    }
    e.active++;
    try {
      return await use((await e.graph) as F);
    } finally {
      e.active--;
      if (e.evicted && e.active === 0) release(e);
    }
  }

  /** Releases every graph (none may be running). */
  async dispose(): Promise<void> {
    const all = [...this.kept.values(), ...this.recent.values()];
    this.closing = true;
    this.kept.clear();
    this.recent.clear();
    this.closing = false;
    for (const e of all)
      await e.graph.then(
        (g) => g.dispose(),
        () => undefined,
      );
  }
}

function release(e: Entry): void {
  void e.graph.then(
    (g) => g.dispose(),
    () => undefined,
  );
}
