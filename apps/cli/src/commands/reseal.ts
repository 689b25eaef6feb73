import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { resealModelFolder } from '@rdc/core';

/** `rdc reseal`: re-emit a model folder's graphs and seal its config.json, weights unchanged. */
export function resealCommand() {
  return new Command('reseal')
    .description(
      "re-seal a model folder: re-emit its ONNX graphs from the weights with this version's code, make recorded paths relative, and write config.json with a checksum of its own (weights, settings and card unchanged); for folders written by an older version",
    )
    .requiredOption('--model <dir>', 'model folder')
    .action((o) => {
      const before = JSON.parse(readFileSync(join(o.model, 'config.json'), 'utf8')) as { files?: Record<string, { sha256: string }> };
      const config = resealModelFolder(o.model);
      const changed = Object.keys(config.files).filter((f) => before.files?.[f]?.sha256 !== config.files[f].sha256);
      process.stdout.write(`re-sealed ${o.model}: config.json sealed${changed.length ? `; rewritten: ${changed.join(', ')}` : '; no other file changed'}\n`);
    });
}
