import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiffusionClassifier, modelDenoisers, OrtEngine, Random, readModelFolder } from '@rdc/core';
import { loadCifar10 } from '@rdc/train';
import { cifarForTests } from '@rdc/train/testing';
import { describe, expect, it } from 'vitest';

const folder = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'models', 'default');

const data = cifarForTests();

describe('the shipped default model', () => {
  it('loads through the one UNet builder in the SongUNet layout of EDM, its ONNX graphs current', () => {
    const warnings: string[] = [];
    const m = readModelFolder(folder, { warn: (w) => warnings.push(w) });
    expect(warnings).toEqual([]);
    expect(m.stale).toEqual([]);
    expect(m.config.network).toMatchObject({
      arch: 'unet',
      conditioning: 'multihead',
      resample: 'block',
      middleBlocks: 2,
      decoderAttention: 'last',
      normEps: 1e-6,
      embeddingOrder: 'sin-cos',
    });
  });

  it.skipIf(!data)('classifies the first 32 test images far above chance', async () => {
    const m = readModelFolder(folder);
    const engine = await OrtEngine.create({ threads: 2 });
    const dc = new DiffusionClassifier(modelDenoisers(m, engine).main, { ...m.config.dc, levels: 25 });
    const test = loadCifar10(data!, 'test', { limit: 32 });
    const logits = (await dc.logits(test.pixels(Array.from({ length: 32 }, (_, i) => i)), { rng: new Random(0) })).data;
    let right = 0;
    for (let i = 0; i < 32; i++) {
      const row = Array.from(logits.subarray(i * 10, (i + 1) * 10));
      right += row.indexOf(Math.max(...row)) === test.labels[i] ? 1 : 0;
    }
    // 10 % is chance; a wiring or layout error gives about that. Measured (v2, 2026-12-02): 19 of 32 (59 %).
    expect(right).toBeGreaterThanOrEqual(10);
  });
});
