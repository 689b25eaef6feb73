import { renameSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writeModelFolder } from '@rdc/core';
import { tinyUNet } from '@rdc/core/testing';
import { describe, expect, it } from 'vitest';
import { rdc, tmp } from './helpers.js';

describe('rdc serve', () => {
  it('exits with a non-zero code when the model folder cannot be loaded (here: weights linked from outside it)', async () => {
    const dir = tmp('rdc-serve-cli-');
    const model = join(dir, 'model');
    const { config, weights } = tinyUNet({ seed: 1 });
    writeModelFolder(model, { network: config, weights, classes: ['a', 'b', 'c'], card: '# x' });
    renameSync(join(model, 'model.safetensors'), join(dir, 'outside.safetensors'));
    symlinkSync(join(dir, 'outside.safetensors'), join(model, 'model.safetensors'));
    expect(await rdc('serve', '--model', model, '--port', '0')).toBe(2);
    expect(await rdc('serve', '--model', join(dir, 'nothing'), '--port', '0')).toBe(2);
  });
});
