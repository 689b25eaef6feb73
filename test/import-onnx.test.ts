import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readModelFolder } from '@rdc/core';
import { ONNX_FIXTURES } from '@rdc/core/testing';
import { ServedModel } from '@rdc/serve';
import { describe, expect, it } from 'vitest';
import { data, rdcCapture, tmp } from './helpers.js';

const resnet = join(ONNX_FIXTURES, 'resnet.onnx');
const ship = join(import.meta.dirname, '../packages/serve/assets/examples/08-ship.png');

describe('rdc import onnx: a PyTorch ResNet on every road', () => {
  const dir = tmp('rdc-onnx-it-');
  const model = join(dir, 'resnet');

  it('writes a sealed folder with the kind, input range, ops, sha256 and (with CIFAR-10) the clean accuracy; eval, attack, certify, classify and serve take it', async () => {
    const imported = await rdcCapture('import', 'onnx', resnet, '--model', model, '--name', 'small ResNet', '--threads', '1');
    expect(imported.code).toBe(0);
    const { config } = readModelFolder(model);
    expect(config.network).toMatchObject({ arch: 'imported', name: 'small ResNet', inputRange: [0, 1] });
    if (config.network.arch !== 'imported') throw new Error('unreachable');
    expect(config.network.source.ops).toEqual(expect.arrayContaining(['Conv', 'BatchNormalization', 'Gemm', 'Reshape', 'Sub', 'Div']));
    expect(config.network.source.sha256).toMatch(/^[0-9a-f]{64}$/);
    const card = readFileSync(join(model, 'MODEL_CARD.md'), 'utf8');
    expect(card).toContain(config.network.source.sha256);
    if (data) {
      const acc = (config.training as { cleanAccuracy: { images: number; correct: number } }).cleanAccuracy;
      expect(acc.images).toBe(1000);
      // Trained for two epochs on 4 000 images: well above chance (10 %).
      expect(acc.correct).toBeGreaterThan(200);
      expect(card).toMatch(/of the first 1000 CIFAR-10 test images/);

      const evaluated = await rdcCapture('eval', '--model', model, '--limit', '20', '--threads', '1', '--json', '-');
      expect(evaluated.code).toBe(0);
      // The defense is the model's own: none.
      expect(JSON.parse(evaluated.stdout)).toMatchObject({ defense: 'none', images: 20 });

      const out = join(dir, 'attack');
      const attacked = await rdcCapture(
        'attack',
        '--model',
        model,
        '--protocol',
        'standard',
        '--iterations',
        '3',
        '--queries',
        '20',
        '--limit',
        '3',
        '--eps',
        '2/255',
        '--threads',
        '1',
        '--out',
        out,
      );
      expect(attacked.code).toBe(0);
      const report = readFileSync(join(out, 'report.md'), 'utf8');
      expect(report).toMatch(/Protocol \*\*standard\*\* \(AutoAttack's version='standard'.*cascade/);
      for (const a of ['apgd-ce', 'apgd-t', 'fab-t', 'square']) expect(report).toContain(a);

      const certified = await rdcCapture(
        'certify',
        '--model',
        model,
        '--sigma',
        '0.25',
        '--n0',
        '10',
        '--n',
        '50',
        '--limit',
        '2',
        '--threads',
        '1',
        '--out',
        join(dir, 'certify'),
      );
      expect(certified.code).toBe(0);
    }
    const classified = await rdcCapture('classify', ship, '--model', model, '--json', '-');
    expect(classified.code).toBe(0);
    expect(JSON.parse(classified.stdout).results[0]).toMatchObject({ options: { defense: 'none' } });

    const served = await ServedModel.load(model, { threads: 1 });
    expect(served.summary()).toMatchObject({
      name: 'resnet',
      arch: 'imported',
      defenses: ['none'],
      defaultDefense: 'none',
      guard: { status: 'not-applicable' },
    });
  }, 300_000);

  it('an unsupported op, a corrupt file and a bad input range: exit 2, the op and node named, nothing written', async () => {
    const bytes = readFileSync(resnet);
    // The first Relu node's op_type (field 4, length 4) renamed to an op no importer knows: the same length keeps the protobuf valid.
    const at = bytes.indexOf(Buffer.from([0x22, 4, ...Buffer.from('Relu')]));
    const erf = Buffer.from(bytes);
    erf.write('Erfx', at + 2);
    writeFileSync(join(dir, 'erf.onnx'), erf);
    const unsupported = await rdcCapture('import', 'onnx', join(dir, 'erf.onnx'), '--model', join(dir, 'erf'));
    expect(unsupported.code).toBe(2);
    expect(unsupported.stderr).toMatch(/Erfx node '[^']+': unsupported op Erfx/);
    expect(existsSync(join(dir, 'erf'))).toBe(false);

    writeFileSync(join(dir, 'cut.onnx'), bytes.subarray(0, 1000));
    const corrupt = await rdcCapture('import', 'onnx', join(dir, 'cut.onnx'), '--model', join(dir, 'cut'));
    expect(corrupt.code).toBe(2);
    expect(corrupt.stderr).toMatch(/not an ONNX model, or a truncated one/);
    expect(existsSync(join(dir, 'cut'))).toBe(false);

    const range = await rdcCapture('import', 'onnx', resnet, '--model', join(dir, 'range'), '--input-range', '1,0');
    expect(range.code).toBe(2);
    expect(range.stderr).toMatch(/--input-range '1,0': give lo,hi with lo < hi/);
    expect(existsSync(join(dir, 'range'))).toBe(false);
  }, 60_000);
});
