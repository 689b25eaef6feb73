import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** The cache directory for downloads: $RDC_CACHE_DIR, else ~/.cache/rdc. */
export function cacheDir(): string {
  return process.env.RDC_CACHE_DIR ? resolve(process.env.RDC_CACHE_DIR) : join(homedir(), '.cache', 'rdc');
}

/** The CIFAR-10 folder: an explicit --data-dir, else $RDC_DATA_DIR, else the download cache. */
export function resolveDataDir(explicit?: string): string {
  if (explicit) return resolve(explicit);
  if (process.env.RDC_DATA_DIR) return resolve(process.env.RDC_DATA_DIR);
  return join(cacheDir(), 'cifar-10-batches-bin');
}
