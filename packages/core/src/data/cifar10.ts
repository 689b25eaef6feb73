/**
 * The CIFAR-10 reader for the official binary format: records of 1 label byte and 3072 pixel bytes
 * (1024 red, 1024 green, 1024 blue, row-major 32×32). Any subset of `data_batch_1..5.bin` and
 * `test_batch.bin`; class names from `batches.meta.txt`. Sizes and labels are validated with errors
 * that name the file. Pixels reach the API as floats in [0, 1], NCHW.
 *
 * @example
 * const train = loadCifar10('../shared/data/cifar-10-batches-bin', 'train');
 * const x = train.pixels([0, 1, 2]); // [3, 3, 32, 32]
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import type { Random } from '../rng/random.js';
import type { Tensor } from '../tensor.js';

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
export const CIFAR10_SHAPE = [3, 32, 32] as const;
const RECORD = 1 + 3072;
const TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
export const TEST_FILE = 'test_batch.bin';

export type Cifar10Split = 'train' | 'test' | string[];

export class Cifar10 {
  constructor(
    /** Pixel bytes, N × 3072 (CHW). */
    readonly bytes: Uint8Array,
    readonly labels: Uint8Array,
    readonly classes: string[],
    /** The files read, in order. */
    readonly files: string[],
  ) {}

  get size(): number {
    return this.labels.length;
  }

  /** Pixels in [0, 1] for the given indices, [n, 3, 32, 32]. With `flip`, each image is mirrored with probability ½. */
  pixels(indices: ArrayLike<number>, opts: { flip?: Random } = {}): Tensor {
    const n = indices.length;
    const out = new Float32Array(n * 3072);
    for (let i = 0; i < n; i++) {
      const idx = indices[i];
      if (!(idx >= 0 && idx < this.size)) throw new InputError(`cifar10: index ${idx} out of range [0, ${this.size})`);
      const src = this.bytes.subarray(idx * 3072, (idx + 1) * 3072);
      const dst = out.subarray(i * 3072, (i + 1) * 3072);
      for (let j = 0; j < 3072; j++) dst[j] = src[j] / 255;
      if (opts.flip && opts.flip.uniform() < 0.5) flipHorizontal(dst, 3, 32, 32);
    }
    return { data: out, dims: [n, ...CIFAR10_SHAPE] };
  }

  /** Labels for the given indices. */
  labelsAt(indices: ArrayLike<number>): Int32Array {
    return Int32Array.from({ length: indices.length }, (_, i) => this.labels[indices[i]]);
  }
}

/** Mirrors one CHW image left–right in place. */
export function flipHorizontal(img: Float32Array, c: number, h: number, w: number): void {
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      const row = (ch * h + y) * w;
      for (let x = 0; x < w >> 1; x++) {
        const a = img[row + x];
        img[row + x] = img[row + w - 1 - x];
        img[row + w - 1 - x] = a;
      }
    }
  }
}

/** Class names from batches.meta.txt (the standard names if the file is absent). */
export function readClassNames(dir: string): string[] {
  const meta = join(dir, 'batches.meta.txt');
  if (!existsSync(meta)) return [...CIFAR10_CLASSES];
  const names = readFileSync(meta, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  if (names.length !== 10) throw new InputError(`${meta}: expected 10 class names, found ${names.length}`);
  return names;
}

/**
 * Loads a split. 'train' reads every `data_batch_N.bin` present (at least one; the official set has
 * five, this machine's copy three); 'test' reads `test_batch.bin`; or pass file names.
 */
export function loadCifar10(dir: string, split: Cifar10Split, opts: { limit?: number } = {}): Cifar10 {
  if (!existsSync(dir)) {
    throw new InputError(
      `CIFAR-10 folder '${dir}' does not exist: run 'pnpm rdc download-data', or point --data-dir / RDC_DATA_DIR at a copy of cifar-10-batches-bin`,
    );
  }
  let files: string[];
  if (split === 'train') {
    files = TRAIN_FILES.filter((f) => existsSync(join(dir, f)));
    if (files.length === 0) throw new InputError(`no data_batch_N.bin files in '${dir}': is this the cifar-10-batches-bin folder of the binary version?`);
  } else if (split === 'test') {
    files = [TEST_FILE];
  } else {
    files = split;
  }
  const parts: Buffer[] = [];
  let total = 0;
  for (const f of files) {
    const path = join(dir, f);
    if (!existsSync(path)) throw new InputError(`missing CIFAR-10 file '${path}'`);
    const size = statSync(path).size;
    if (size === 0 || size % RECORD !== 0) {
      throw new InputError(`'${path}' has ${size} bytes, not a multiple of ${RECORD} (1 label + 3072 pixels): the file is truncated or not CIFAR-10 binary`);
    }
    const buf = readFileSync(path);
    parts.push(buf);
    total += size / RECORD;
    if (opts.limit !== undefined && total >= opts.limit) break;
  }
  const n = opts.limit !== undefined ? Math.min(opts.limit, total) : total;
  const bytes = new Uint8Array(n * 3072);
  const labels = new Uint8Array(n);
  let k = 0;
  parts.forEach((buf, p) => {
    for (let r = 0; r < buf.length / RECORD && k < n; r++, k++) {
      const label = buf[r * RECORD];
      if (label > 9) throw new InputError(`'${join(dir, files[p])}': record ${r} has label ${label}, outside 0..9`);
      labels[k] = label;
      bytes.set(buf.subarray(r * RECORD + 1, (r + 1) * RECORD), k * 3072);
    }
  });
  return new Cifar10(bytes, labels, readClassNames(dir), files.slice(0, parts.length));
}
