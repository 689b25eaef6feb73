import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Writes JSON to a file ('-' for stdout). */
export function writeJson(file: string, value: unknown): void {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (file === '-') {
    process.stdout.write(text);
    return;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

/** An error the user caused (bad option, bad input): exit code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
}

/**
 * Where a command's human-readable lines go: stderr when stdout carries its JSON (`--json -`), so
 * that stdout is the JSON alone; else stdout.
 *
 * @example
 * const out = humanOutput(o.json); out.write('dc: 55.9 %\n');
 */
export function humanOutput(json?: string): { write: (text: string) => void } {
  const stream = json === '-' ? process.stderr : process.stdout;
  return { write: (text: string) => void stream.write(text) };
}

/**
 * The fields in which two settings objects differ, named by their dotted paths with both values
 * (at most `max`), for refusals that say what differs instead of printing both.
 *
 * @example
 * settingsDifference({ protocol: { iterations: 20 } }, { protocol: { iterations: 5 } }, 'that run', 'this one');
 * // 'protocol.iterations: 20 in that run, 5 in this one'
 */
export function settingsDifference(a: unknown, b: unknown, nameA: string, nameB: string, max = 6): string {
  const out: string[] = [];
  const show = (v: unknown) => (v === undefined ? 'absent' : JSON.stringify(v).slice(0, 80));
  const walk = (x: unknown, y: unknown, path: string) => {
    const obj = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
    if (obj(x) && obj(y)) {
      const keys = [...new Set([...Object.keys(x as object), ...Object.keys(y as object)])].sort();
      for (const k of keys) walk((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
    } else if (JSON.stringify(x) !== JSON.stringify(y)) out.push(`${path || '(all)'}: ${show(x)} in ${nameA}, ${show(y)} in ${nameB}`);
  };
  walk(a, b, '');
  return out.length > max ? `${out.slice(0, max).join('; ')}; and ${out.length - max} more` : out.join('; ');
}
