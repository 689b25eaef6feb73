import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TINY_UNET, data, rdc, tmp } from './helpers.js';

const main = resolve(dirname(fileURLToPath(import.meta.url)), '../apps/cli/dist/main.js');

describe.skipIf(!data)('Ctrl-C during training', () => {
  it('saves a checkpoint, exits with 130, and the run resumes from it', async () => {
    const run = join(tmp(), 'run');
    const child = spawn(
      process.execPath,
      [main, 'train', ...TINY_UNET, '--run', run, '--steps', '100000', '--batch', '4', '--val-size', '20', '--ckpt-every', '100000'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // Wait until a few steps are logged, then interrupt.
    const log = join(run, 'log.jsonl');
    for (let i = 0; i < 600 && !(existsSync(log) && /"event":"step","step":10,/.test(readFileSync(log, 'utf8'))); i++)
      await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(stderr).toMatch(/stopping after this step and saving a checkpoint/);
    expect(code).toBe(130);
    const latest = JSON.parse(readFileSync(join(run, 'latest.json'), 'utf8'));
    expect(latest.step).toBeGreaterThanOrEqual(10);
    expect(await rdc('train', '--run', run, '--resume', '--steps', String(latest.step + 2))).toBe(0);
    expect(readFileSync(log, 'utf8')).toMatch(new RegExp(`"event":"resume","step":${latest.step}`));
    // The model card names both sessions' commands.
    const model = join(tmp(), 'model');
    // (A few steps do not make denoisers: the export is allowed to label it so.)
    expect(await rdc('export', '--run', run, '--model', model, '--calibration-images', '8', '--levels', '4', '--allow-discriminative')).toBe(0);
    const card = readFileSync(join(model, 'MODEL_CARD.md'), 'utf8');
    expect(card).toMatch(/Command: `rdc train .*--steps 100000/);
    expect(card).toMatch(new RegExp(`Resumed at step ${latest.step} \\(.*\\): \`rdc train --run .* --resume --steps ${latest.step + 2}\``));
  });
});
