import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The CIFAR-10 copy tests read: $RDC_DATA_DIR, else ../shared/data/cifar-10-batches-bin beside the checkout. */
export function testDataDir(): string {
  if (process.env.RDC_DATA_DIR) return resolve(process.env.RDC_DATA_DIR);
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  const dir = resolve(repo, '../shared/data/cifar-10-batches-bin');
  if (!existsSync(dir)) throw new Error(`tests need CIFAR-10: set RDC_DATA_DIR (looked for ${dir})`);
  return dir;
}
