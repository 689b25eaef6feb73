import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '@rdc/cli/program';
import { testDataDir } from '@rdc/train/testing';

// The CLI reads CIFAR-10 from RDC_DATA_DIR: point it at the copy the tests use.
process.env.RDC_DATA_DIR ??= testDataDir();

/** Runs the `rdc` CLI in-process and returns its exit code. */
export const rdc = (...args: string[]): Promise<number> => run(['node', 'rdc', ...args]);

export const tmp = (prefix = 'rdc-it-'): string => mkdtempSync(join(tmpdir(), prefix));

/** Options for a UNet of a few MFLOP (the real CLI path, tiny sizes). */
export const TINY_UNET = ['--model-channels', '8', '--channel-mult', '1,2', '--num-blocks', '1', '--attn', '16'];
