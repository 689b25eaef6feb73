/**
 * The seal of a model folder: sha256 of files, the canonical JSON checksum config.json carries of
 * itself, and recorded paths made relative (nothing names a directory of the machine that made it:
 * a path inside the working folder becomes relative to it, any other its last component).
 *
 * @example
 * configChecksum(config) === config.configSha256;
 */
import { createHash } from 'node:crypto';
import type { ModelConfig } from './config.js';

export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** JSON with object keys sorted at every level: the same bytes for the same content, however it was formatted. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** The checksum config.json carries of itself: sha256 of its canonical JSON without `configSha256`. */
export function configChecksum(config: Omit<ModelConfig, 'configSha256'> & { configSha256?: string }): string {
  const { configSha256: _, ...rest } = config;
  return sha256(canonicalJson(rest));
}

/**
 * Absolute paths (two or more components) inside recorded text (commands, data folders) replaced by their last component, so
 * that nothing a model folder records names a directory of the machine that made it.
 *
 * @example
 * relativePaths('--data-dir /home/me/cifar') // '--data-dir cifar'
 * relativePaths(`--run ${process.cwd()}/runs/tiny`) // '--run runs/tiny' (inside the working folder: still re-runnable there)
 */
export function relativePaths<T>(value: T, base = process.cwd()): T {
  const root = base.replace(/\/$/, '');
  const strip = (s: string) =>
    s.replace(/(?<![\w.:/~-])(?:\/[^\s"'`/]+){2,}\/?/g, (m) => {
      const path = m.replace(/\/$/, '');
      if (path.startsWith(`${root}/`)) return path.slice(root.length + 1);
      return path.split('/').pop() || '.';
    });
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return strip(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}
