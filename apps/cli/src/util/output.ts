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
