// Writes the page's example images: the first image of each class in the CIFAR-10 test batch, as
// PNG, into packages/serve/assets/examples/ (committed: ten 32×32 images, a few KB).
// Usage: node scripts/make-examples.mjs [cifar-10-batches-bin folder]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(new URL('../packages/serve/package.json', import.meta.url));
const sharp = require('sharp');
const dir = process.argv[2] ?? process.env.RDC_DATA_DIR ?? '../shared/data/cifar-10-batches-bin';
const names = readFileSync(join(dir, 'batches.meta.txt'), 'utf8')
  .split('\n')
  .map((s) => s.trim())
  .filter(Boolean);
const bytes = readFileSync(join(dir, 'test_batch.bin'));
const out = new URL('../packages/serve/assets/examples/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });
const list = [];
for (let label = 0; label < 10; label++) {
  let i = 0;
  while (bytes[i * 3073] !== label) i++;
  const rec = bytes.subarray(i * 3073 + 1, (i + 1) * 3073);
  const hwc = Buffer.alloc(3072);
  for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) hwc[p * 3 + c] = rec[c * 1024 + p];
  const file = `${String(label).padStart(2, '0')}-${names[label]}.png`;
  writeFileSync(
    join(out, file),
    await sharp(hwc, { raw: { width: 32, height: 32, channels: 3 } })
      .png()
      .toBuffer(),
  );
  list.push({ file, label: names[label], testIndex: i });
}
writeFileSync(join(out, 'examples.json'), `${JSON.stringify(list, null, 2)}\n`);
console.log(`wrote ${list.length} examples to ${out}`);
