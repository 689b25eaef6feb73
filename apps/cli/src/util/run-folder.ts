/**
 * A run folder of a measuring command (rdc attack, rdc certify): it holds one run, so resuming with
 * other settings is refused, naming what differs; settings.json and manifest.json (what rdc merge
 * checks across shards) are written on the first start.
 *
 * @example
 * prepareRunFolder(out, settings, { kind: 'certify', settings: shared, selection, shard, code: codeVersion() });
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { differences, type RunManifest } from '@rdc/attacks';
import { InputError } from '@rdc/core';

export function prepareRunFolder(out: string, settings: Record<string, unknown>, manifest: RunManifest): void {
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
