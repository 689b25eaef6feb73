import { describe, expect, it } from 'vitest';
import { describeSelection, imagesLabel, shardedSelection } from './shard-options.js';

describe('the selection in words', () => {
  it('names a list as the list, a range as a range and a prefix as the first N', () => {
    expect(describeSelection({ begin: 2, end: 30, images: [2, 11, 29] })).toBe('images 2, 11, 29');
    expect(describeSelection({ begin: 200, end: 300 })).toBe('images 200–299');
    expect(describeSelection({ begin: 0, end: 100 })).toBe('the first 100 images');
  });

  it('says the same thing for a run and for its merged shards (which only have the selection)', () => {
    for (const o of [{ images: '21,29' }, { range: '40:48' }, { limit: 8 }]) {
      const { selection, label } = shardedSelection(o, 10_000);
      expect(describeSelection(selection)).toBe(label);
    }
    expect(imagesLabel({ begin: 0, end: 2, images: [21, 29] }, 'test')).toBe('images 21, 29 of the CIFAR-10 test batch');
    expect(imagesLabel('the first 2 images', 'val')).toBe("the first 2 images of the model's validation split");
  });
});
