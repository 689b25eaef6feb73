import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '@rdc/cli/program';

/** Runs the `rdc` CLI in-process and returns its exit code. */
export const rdc = (...args: string[]): Promise<number> => run(['node', 'rdc', ...args]);

export const tmp = (prefix = 'rdc-it-'): string => mkdtempSync(join(tmpdir(), prefix));

/** Options for a UNet of a few MFLOP (the real CLI path, tiny sizes). */
export const TINY_UNET = ['--model-channels', '8', '--channel-mult', '1,2', '--num-blocks', '1', '--attn', '16'];
