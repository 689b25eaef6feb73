/**
 * A run folder of a measuring command (rdc attack, rdc certify): it holds one run, so resuming with
 * other settings is refused, naming what differs; settings.json and manifest.json (what rdc merge
 * checks across shards) are written on the first start.
 *
 * What every shard shares is the settings less the model's path and the image selection (the model
 * is identified by its checksum inside the settings).
 *
 * @example
 * prepareRunFolder(out, 'certify', { ...settings, model: dir, selection }, shard);
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { differences, type RunManifest, type Selection } from '@rdc/attacks';
import { InputError } from '@rdc/core';
import { codeVersion } from './provenance.js';

export function prepareRunFolder(
  out: string,
  kind: RunManifest['kind'],
  settings: Record<string, unknown> & { model: unknown; selection: Selection },
  shard: { index: number; count: number } | null | undefined,
): void {
  const { model: _dir, selection, ...shared } = settings;
  const manifest: RunManifest = { kind, settings: shared, selection, shard: shard ? { index: shard.index, count: shard.count } : null, code: codeVersion() };
  mkdirSync(out, { recursive: true });
  const settingsPath = join(out, 'settings.json');
  const text = `${JSON.stringify(settings, null, 2)}\n`;
  if (existsSync(settingsPath)) {
    const previous = readFileSync(settingsPath, 'utf8');
    if (previous !== text)
      throw new InputError(
        `${out} holds a run with other settings (${differences(JSON.parse(previous), JSON.parse(text)).join('; ')}: that run's ≠ this one's); use another --out (or delete it)`,
      );
  } else writeFileSync(settingsPath, text);
  writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}
