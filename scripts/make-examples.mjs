// Writes the page's example images: the first image of each class in the CIFAR-10 test batch, as
// PNG, into packages/serve/assets/examples/ (committed: ten 32×32 images, a few KB). Needs a build.
// Usage: node scripts/make-examples.mjs [cifar-10-batches-bin folder]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pngBytes } from '../packages/serve/dist/index.js';
import { CIFAR10_CLASSES, loadCifar10 } from '../packages/train/dist/index.js';

const dir = process.argv[2] ?? process.env.RDC_DATA_DIR ?? '../shared/data/cifar-10-batches-bin';
const test = loadCifar10(dir, 'test');
const out = new URL('../packages/serve/assets/examples/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });
const list = [];
for (const [label, name] of CIFAR10_CLASSES.entries()) {
  const i = test.labels.indexOf(label);
  const file = `${String(label).padStart(2, '0')}-${name}.png`;
  writeFileSync(join(out, file), await pngBytes(test.pixels([i])));
  list.push({ file, label: name, testIndex: i });
}
writeFileSync(join(out, 'examples.json'), `${JSON.stringify(list, null, 2)}\n`);
console.log(`wrote ${list.length} examples to ${out}`);
