/**
 * MODEL_CARD.md's marked sections (`<!-- rdc:NAME -->` … `<!-- /rdc:NAME -->`): read them, and
 * replace one (rdc eval/attack/sample/certify --record), updating the card's checksum in config.json.
 *
 * @example
 * updateModelCardSection('models/default', 'eval-dc', '- **DC**: clean accuracy …');
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { configChecksum, relativePaths, sha256 } from './checksum.js';
import type { Calibration, CertifiedFigure, ModelConfig, RobustFigure } from './config.js';
import { readModelFolder, writeConfigAndCard } from './folder.js';

/**
 * The marked sections of a MODEL_CARD.md text (those `updateModelCardSection` writes), by name.
 *
 * @example
 * modelCardSections(card)['eval-dc']; // '- **DC**: clean accuracy 55.9 % …'
 */
export function modelCardSections(card: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of card.matchAll(/<!-- rdc:([\w.-]+) -->\n([\s\S]*?)\n<!-- \/rdc:\1 -->/g)) out[m[1]] = m[2].trim();
  return out;
}

/**
 * Replaces a marked section of MODEL_CARD.md (between `<!-- rdc:NAME -->` and `<!-- /rdc:NAME -->`,
 * appended if absent) and updates its checksum in config.json, atomically; `configChanges` (a new
 * temperature and its calibration record from rdc calibrate, learned σ weights from rdc fit-weights)
 * go into config.json in the same write.
 */
export function updateModelCardSection(
  dir: string,
  name: string,
  markdown: string,
  configChanges: Partial<Pick<ModelConfig, 'temperature' | 'calibration' | 'dc'>> = {},
  /** The section's figures as data: they replace the figures of this section in config.json's `measured`. */
  figures?: { robust?: Omit<RobustFigure, 'section'>[]; certified?: Omit<CertifiedFigure, 'section'>[] },
): void {
  const root = resolve(dir);
  const model = readModelFolder(root);
  const cardPath = join(root, 'MODEL_CARD.md');
  const card = readFileSync(cardPath, 'utf8');
  const open = `<!-- rdc:${name} -->`;
  const close = `<!-- /rdc:${name} -->`;
  const block = `${open}\n${markdown.trim()}\n${close}`;
  const a = card.indexOf(open);
  const b = card.indexOf(close);
  const next = a >= 0 && b > a ? `${card.slice(0, a)}${block}${card.slice(b + close.length)}` : `${card.trimEnd()}\n\n${block}\n`;
  const bytes = Buffer.from(relativePaths(next));
  const files = { ...model.config.files, 'MODEL_CARD.md': { sha256: sha256(bytes), bytes: bytes.length } };
  const own = <T extends { section: string }>(list: T[]) => list.filter((f) => f.section !== name);
  const measured = figures
    ? {
        robust: [...own(model.config.measured.robust), ...(figures.robust ?? []).map((f) => ({ ...f, section: name }))],
        certified: [...own(model.config.measured.certified), ...(figures.certified ?? []).map((f) => ({ ...f, section: name }))],
      }
    : model.config.measured;
  const config = { ...model.config, ...configChanges, measured, files };
  writeConfigAndCard(root, { ...config, configSha256: configChecksum(config) }, bytes);
}

/**
 * The model card's sentence on a fitted temperature: on what it was fitted and what it changed (a
 * CNN has no σ levels to name).
 *
 * @example
 * calibrationText(1.2, calibration, 'unet'); // 'Temperature T = 1.20 (probabilities = softmax(logits / T)) fitted on …'
 */
export function calibrationText(temperature: number, c: Calibration, arch: string): string {
  const levels = arch === 'cnn' ? '' : `, ${c.levels} σ levels`;
  return `Temperature T = ${temperature.toPrecision(3)} (probabilities = softmax(logits / T)) fitted on ${c.images} images of the ${c.split}${levels}: mean NLL ${c.nllBefore.toFixed(4)} → ${c.nllAfter.toFixed(4)}; accuracy on those images ${(100 * c.accuracy).toFixed(1)} %.`;
}
