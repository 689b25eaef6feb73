import { InputError } from '@rdc/core';

/** "90", "90s", "10m", "1.5h" → seconds. */
export function parseDuration(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$/.exec(v);
  if (!m) throw new InputError(`expected a duration like 600, 90s, 10m or 1.5h, got '${v}'`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 's' | 'm' | 'h'];
}

/** "1,2,2" → [1, 2, 2]. */
export function parseIntList(v: string): number[] {
  const out = v
    .split(',')
    .filter((s) => s.trim() !== '')
    .map((s) => Number(s));
  if (out.some((n) => !Number.isInteger(n))) throw new InputError(`expected a comma-separated list of integers, got '${v}'`);
  return out;
}

export function parseIntArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InputError(`expected an integer, got '${v}'`);
  return n;
}

export function parseNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InputError(`expected a number, got '${v}'`);
  return n;
}
