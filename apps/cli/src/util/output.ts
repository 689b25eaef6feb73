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
