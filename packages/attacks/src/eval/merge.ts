/**
 * Merging the outputs of a sharded run (`rdc merge`). Every shard writes a manifest with the
 * settings that all shards of one run share (the model's checksum among them, not its path), the
 * run's selection, its shard and the code version. Merging refuses shards that differ in any of
 * these, naming the difference; it reports images that no shard has yet (a partial merge, to be
 * re-run as shards finish) and images that two shards both hold.
 *
 * @example
 * checkShards(parts.map((p) => ({ path: p.dir, manifest: p.manifest })));
 * const { records, missing, duplicated } = mergeRecords(parts, expectedIndices(parts[0].manifest), sameRecord);
 */
import { InputError } from '@rdc/core/runtime';
import { shardIndices, type Selection } from './shard.js';

export interface RunManifest {
  kind: 'attack' | 'eval' | 'certify';
  /** What every shard of the run must share: settings, threat model, the model's sha256, seeds. */
  settings: Record<string, unknown>;
  selection: Selection;
  shard: { index: number; count: number } | null;
  code: { version: string; commit: string };
}

/** Where two JSON values differ, as 'path: a ≠ b' lines (at most `max`). */
export function differences(a: unknown, b: unknown, path = '', max = 5): string[] {
  const out: string[] = [];
  const walk = (x: unknown, y: unknown, p: string) => {
    if (out.length >= max) return;
    if (x !== null && y !== null && typeof x === 'object' && typeof y === 'object' && Array.isArray(x) === Array.isArray(y)) {
      const keys = [...new Set([...Object.keys(x as object), ...Object.keys(y as object)])];
      for (const k of keys) walk((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], p ? `${p}.${k}` : k);
      return;
    }
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push(`${p || '(root)'}: ${JSON.stringify(x) ?? 'absent'} ≠ ${JSON.stringify(y) ?? 'absent'}`);
  };
  walk(a, b, path);
  return out;
}

/** Throws (naming the shard and the difference) unless every manifest belongs to the same run. */
export function checkShards(parts: readonly { path: string; manifest: RunManifest }[]): void {
  if (parts.length === 0) throw new InputError('nothing to merge: name shard folders (with manifest.json) or eval JSON files', 'bad_option');
  const [first, ...rest] = parts;
  for (const p of rest) {
    const a = first.manifest;
    const b = p.manifest;
    const refuse = (what: string, diff: string[]) =>
      new InputError(`${p.path} is not a shard of the same run as ${first.path}: ${what} differ (${diff.join('; ')})`, 'shard_mismatch');
    if (a.kind !== b.kind) throw refuse('kinds', [`${a.kind} ≠ ${b.kind}`]);
    const code = differences(a.code, b.code, 'code');
    if (code.length) throw refuse('code versions', code);
    const settings = differences(a.settings, b.settings);
    if (settings.length) throw refuse('settings', settings);
    const sel = differences(a.selection, b.selection, 'selection');
    if (sel.length) throw refuse('image selections', sel);
    if ((a.shard?.count ?? 1) !== (b.shard?.count ?? 1)) throw refuse('shard counts', [`${a.shard?.count ?? 1} ≠ ${b.shard?.count ?? 1}`]);
  }
}

/** Every dataset index the whole run covers. */
export function expectedIndices(m: RunManifest): number[] {
  return shardIndices(m.selection, null);
}

export interface Merged<T> {
  /** In dataset order, one per index. */
  records: T[];
  missing: number[];
  /** Indices held by more than one shard; `identical` when their records agree. */
  duplicated: { index: number; paths: string[]; identical: boolean }[];
}

/** Joins shards' records: one per index (the first found), with the missing and duplicated ones. */
export function mergeRecords<T extends { index: number }>(
  parts: readonly { path: string; records: readonly T[] }[],
  expected: readonly number[],
  same: (a: T, b: T) => boolean,
): Merged<T> {
  const byIndex = new Map<number, { rec: T; paths: string[]; identical: boolean }>();
  for (const p of parts) {
    for (const rec of p.records) {
      const seen = byIndex.get(rec.index);
      if (!seen) byIndex.set(rec.index, { rec, paths: [p.path], identical: true });
      else {
        seen.paths.push(p.path);
        seen.identical &&= same(seen.rec, rec);
      }
    }
  }
  const want = new Set(expected);
  for (const i of byIndex.keys())
    if (!want.has(i)) throw new InputError(`image ${i} is outside the run's selection: a shard of another run?`, 'shard_mismatch');
  return {
    records: expected.filter((i) => byIndex.has(i)).map((i) => byIndex.get(i)!.rec),
    missing: expected.filter((i) => !byIndex.has(i)),
    duplicated: [...byIndex.entries()].filter(([, v]) => v.paths.length > 1).map(([index, v]) => ({ index, paths: v.paths, identical: v.identical })),
  };
}
