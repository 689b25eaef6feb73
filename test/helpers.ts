import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '@rdc/cli/program';
import { vi } from 'vitest';
import { cifarForTests } from '@rdc/train/testing';

/** The CIFAR-10 copy the tests use (null: absent, and the tests that need it skip; in CI an error). */
export const data = cifarForTests();
// The CLI reads CIFAR-10 from RDC_DATA_DIR: point it at that copy.
if (data) process.env.RDC_DATA_DIR ??= data;

/** Runs the `rdc` CLI in-process and returns its exit code. */
export const rdc = (...args: string[]): Promise<number> => run(['node', 'rdc', ...args]);

export const tmp = (prefix = 'rdc-it-'): string => mkdtempSync(join(tmpdir(), prefix));

/** Options for a UNet of a few MFLOP (the real CLI path, tiny sizes). */
export const TINY_UNET = ['--model-channels', '8', '--channel-mult', '1,2', '--num-blocks', '1', '--attn', '16'];

/** Runs the CLI in-process and returns its exit code and what it wrote to stdout and stderr. */
export async function rdcCapture(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const code = await rdc(...args);
    const text = (spy: typeof out) => spy.mock.calls.map((c) => String(c[0])).join('');
    return { code, stdout: text(out), stderr: text(err) };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}
