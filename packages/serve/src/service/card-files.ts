/**
 * The files a model card links (its plots and sample grids, e.g. `samples/samples.png`), read once
 * when the model is loaded: the page serves them at `/models/NAME/PATH` from memory, and nothing else
 * of the folder (config.json, the weights). A link that leaves the folder (absolute, `..`, a symlink
 * out), is not a plain file, or is not an image the page shows is left out.
 *
 * @example
 * const files = cardFiles('models/default', card); // Map { 'samples/samples.png' => { bytes, type } }
 */
import { existsSync, lstatSync, readFileSync, realpathSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = { '.png': 'image/png', '.svg': 'image/svg+xml', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp' };

export function cardFiles(dir: string, card: string): Map<string, { bytes: Buffer; type: string }> {
  const root = realpathSync(resolve(dir));
  const out = new Map<string, { bytes: Buffer; type: string }>();
  for (const m of card.matchAll(/\]\(([^)\s]+)\)/g)) {
    const link = m[1];
    const type = TYPES[extname(link).toLowerCase()];
    if (!type || out.has(link) || /^[a-z]+:|^\/|\\/i.test(link) || link.split('/').some((p) => p === '..' || p === '.' || p === '')) continue;
    const path = join(root, link);
    if (!existsSync(path) || !lstatSync(path).isFile()) continue;
    if (!realpathSync(path).startsWith(root + sep)) continue;
    out.set(link, { bytes: readFileSync(path), type });
  }
  return out;
}
