import { describe, expect, it } from 'vitest';
import { checkShards, differences, expectedIndices, mergeRecords, type RunManifest } from './merge.js';

const manifest = (o: Partial<RunManifest> = {}): RunManifest => ({
  kind: 'attack',
  settings: { modelSha256: 'aa', threat: { norm: 'linf', eps: 8 / 255 }, seed: 0 },
  selection: { begin: 0, end: 6 },
  shard: { index: 1, count: 3 },
  code: { version: '0.1.0', commit: 'abc' },
  ...o,
});

describe('merging shards', () => {
  it('names where settings differ', () => {
    expect(differences({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 3] } })).toEqual(['b.c.1: 2 ≠ 3']);
    expect(differences({ a: 1 }, { a: 1, x: 'y' })).toEqual(['x: absent ≠ "y"']);
    expect(differences({ a: 1 }, { a: 1 })).toEqual([]);
  });

  it('refuses shards of another ε, another model, other code or another selection, naming the difference', () => {
    const ok = [
      { path: 's1', manifest: manifest() },
      { path: 's2', manifest: manifest({ shard: { index: 2, count: 3 } }) },
    ];
    expect(() => checkShards(ok)).not.toThrow();
    const other = (o: Partial<RunManifest>) => () => checkShards([ok[0], { path: 's9', manifest: manifest(o) }]);
    expect(other({ settings: { ...manifest().settings, threat: { norm: 'linf', eps: 16 / 255 } } })).toThrow(/s9 .*settings differ.*threat\.eps/);
    expect(other({ settings: { ...manifest().settings, modelSha256: 'bb' } })).toThrow(/modelSha256: "aa" ≠ "bb"/);
    expect(other({ code: { version: '0.1.0', commit: 'def' } })).toThrow(/code versions differ.*code\.commit/);
    expect(other({ selection: { begin: 0, end: 7 } })).toThrow(/image selections differ/);
    expect(other({ shard: { index: 1, count: 2 } })).toThrow(/shard counts differ/);
    expect(other({ kind: 'eval' })).toThrow(/kinds differ/);
    expect(() => checkShards([])).toThrow(/nothing to merge/);
  });

  it('reports missing and duplicated images; refuses images outside the selection', () => {
    const r = (index: number, p = 0) => ({ index, p });
    const same = (a: { p: number }, b: { p: number }) => a.p === b.p;
    const m = mergeRecords(
      [
        { path: 's1', records: [r(0), r(3)] },
        { path: 's2', records: [r(4), r(1)] },
        { path: 's3', records: [r(3, 1)] },
      ],
      expectedIndices(manifest()),
      same,
    );
    expect(m.records.map((x) => x.index)).toEqual([0, 1, 3, 4]);
    expect(m.missing).toEqual([2, 5]);
    expect(m.duplicated).toEqual([{ index: 3, paths: ['s1', 's3'], identical: false }]);
    expect(() => mergeRecords([{ path: 's1', records: [r(9)] }], [0, 1], same)).toThrow(/outside the run's selection/);
  });
});
