import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '@rdc/core';
import { describe, expect, it } from 'vitest';
import { cifarForTests } from '../testing.js';
import { CIFAR10_CLASSES, flipHorizontal, loadCifar10 } from './cifar10.js';
import { trainValSplit } from './split.js';

const dir = cifarForTests();

describe.skipIf(!dir)('CIFAR-10 reader', () => {
  const testDataDir = () => dir!;
  it('reads the official binary files with labels, class names and pixels in [0, 1]', () => {
    const test = loadCifar10(testDataDir(), 'test', { limit: 200 });
    expect(test.size).toBe(200);
    expect(test.classes).toEqual(CIFAR10_CLASSES);
    const x = test.pixels([0, 199]);
    expect(x.dims).toEqual([2, 3, 32, 32]);
    // Pixels are the file's bytes / 255, in CHW order: record i is a label byte and 3072 pixel bytes.
    const raw = readFileSync(join(testDataDir(), 'test_batch.bin'));
    for (const [img, rec] of [
      [0, 0],
      [1, 199],
    ])
      for (const j of [0, 1, 31, 32, 1023, 1024, 2047, 2048, 3071]) expect(x.data[img * 3072 + j]).toBe(Math.fround(raw[rec * 3073 + 1 + j] / 255));
    // The first test image of CIFAR-10 is a cat (label 3).
    expect(test.labels[0]).toBe(3);
    const counts = new Array(10).fill(0);
    test.labels.forEach((l) => counts[l]++);
    expect(counts.every((c) => c > 5)).toBe(true);
  });

  it('reads every training batch present', () => {
    const train = loadCifar10(testDataDir(), 'train', { limit: 10_001 });
    expect(train.size).toBe(10_001);
    expect(train.files).toEqual(['data_batch_1.bin', 'data_batch_2.bin']);
  });

  it('says which file is wrong', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rdc-cifar-'));
    expect(() => loadCifar10(join(dir, 'nope'), 'test')).toThrow(/does not exist.*download-data/);
    expect(() => loadCifar10(dir, 'test')).toThrow(/missing CIFAR-10 file .*test_batch.bin/);
    expect(() => loadCifar10(dir, 'train')).toThrow(/no data_batch_N.bin/);
    writeFileSync(join(dir, 'test_batch.bin'), Buffer.alloc(3073 * 2 + 10));
    expect(() => loadCifar10(dir, 'test')).toThrow(/test_batch.bin' has 6156 bytes, not a multiple of 3073/);
    const bad = Buffer.alloc(3073 * 2);
    bad[3073] = 12;
    writeFileSync(join(dir, 'test_batch.bin'), bad);
    expect(() => loadCifar10(dir, 'test')).toThrow(/record 1 has label 12/);
    copyFileSync(join(testDataDir(), 'batches.meta.txt'), join(dir, 'batches.meta.txt'));
    writeFileSync(join(dir, 'batches.meta.txt'), 'a\nb\n');
    writeFileSync(join(dir, 'test_batch.bin'), Buffer.alloc(3073));
    expect(() => loadCifar10(dir, 'test')).toThrow(/expected 10 class names, found 2/);
  });

  it('flips mirror each row and flipping twice is the identity', () => {
    const img = Float32Array.from({ length: 2 * 2 * 3 }, (_, i) => i);
    const f = Float32Array.from(img);
    flipHorizontal(f, 2, 2, 3);
    expect(Array.from(f.subarray(0, 3))).toEqual([2, 1, 0]);
    flipHorizontal(f, 2, 2, 3);
    expect(Array.from(f)).toEqual(Array.from(img));
    const data = loadCifar10(testDataDir(), 'test', { limit: 50 });
    const plain = data.pixels([...Array(50).keys()]);
    const flipped = data.pixels([...Array(50).keys()], { flip: new Random(1) });
    let changed = 0;
    for (let i = 0; i < 50; i++) if (plain.data[i * 3072] !== flipped.data[i * 3072] || plain.data[i * 3072 + 31] !== flipped.data[i * 3072 + 31]) changed++;
    expect(changed).toBeGreaterThan(10);
    expect(changed).toBeLessThan(40);
  });
});

describe('train/validation split', () => {
  it('is seeded, disjoint and complete', () => {
    const a = trainValSplit(1000, 100, 3);
    const b = trainValSplit(1000, 100, 3);
    expect(Array.from(a.val)).toEqual(Array.from(b.val));
    expect(Array.from(trainValSplit(1000, 100, 4).val)).not.toEqual(Array.from(a.val));
    const all = new Set([...a.train, ...a.val]);
    expect(all.size).toBe(1000);
    expect(a.val.length).toBe(100);
    expect(() => trainValSplit(10, 10, 0)).toThrow(/validation size/);
  });
});
