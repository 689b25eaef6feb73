import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let said = false;

/**
 * The CIFAR-10 copy tests read: $RDC_DATA_DIR, else ../shared/data/cifar-10-batches-bin beside the
 * checkout (the developers' and CI's copy). Absent: null, and one line saying how to get it (tests
 * that need it skip); in CI ($CI set) an absent data set is an error, so nothing skips there.
 *
 * @example
 * const data = cifarForTests();
 * describe.skipIf(!data)('training on CIFAR-10', () => { ... });
 */
export function cifarForTests(): string | null {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  const dir = process.env.RDC_DATA_DIR ? resolve(process.env.RDC_DATA_DIR) : resolve(repo, '../shared/data/cifar-10-batches-bin');
  if (existsSync(dir)) return dir;
  if (process.env.CI) throw new Error(`CI needs CIFAR-10 at ${dir}: set RDC_DATA_DIR to a copy of cifar-10-batches-bin`);
  if (!said)
    process.stderr.write(
      `skipping the tests that need CIFAR-10 (${dir} is absent): run 'pnpm rdc download-data' and set RDC_DATA_DIR=~/.cache/rdc/cifar-10-batches-bin\n`,
    );
  said = true;
  return null;
}
