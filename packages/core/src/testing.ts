/**
 * Small fixtures for tests across packages: tiny networks (a few MFLOP) whose every layer is
 * active, and a Gaussian-mixture oracle with known means.
 *
 * @example
 * const { config, weights } = tinyUNet();
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GmmConfig, UNetConfig } from './config/schema.js';
import { logSumExp } from './math/logits.js';
import { buildDenoiserGraph } from './nn/denoiser-graph.js';
import { initWeights } from './nn/weights.js';
import { Random } from './rng/random.js';
import type { Tensor, Weights } from './tensor.js';

/** A tiny multi-head UNet in EDM's layout with attention (8×8 images, 2 levels) and weights that exercise every layer. */
export function tinyUNet(opts: { classes?: number; seed?: number; attention?: boolean; size?: number; headChannels?: number } = {}): {
  config: UNetConfig;
  weights: Weights;
} {
  const size = opts.size ?? 8;
  const config = UNetConfig.parse({
    arch: 'unet',
    image: { channels: 3, height: size, width: size },
    numClasses: opts.classes ?? 3,
    modelChannels: 8,
    channelMult: [1, 2],
    numBlocks: 1,
    attnResolutions: opts.attention === false ? [] : [size / 2],
    headChannels: opts.headChannels ?? 0,
  });
  const graph = buildDenoiserGraph(config);
  const weights = initWeights(graph, opts.seed ?? 0);
  // EDM initialises the last layer of each branch near zero; give them real values so that
  // gradients and parity tests see every layer.
  const rng = new Random((opts.seed ?? 0) + 1000);
  for (const [name, w] of Object.entries(weights)) {
    if (/conv1\.weight|proj\.weight|aux_conv\.weight|head_out\.weight/.test(name)) for (let i = 0; i < w.data.length; i++) w.data[i] = 0.1 * rng.gaussian();
    if (/bias$/.test(name)) for (let i = 0; i < w.data.length; i++) w.data[i] = 0.05 * rng.gaussian();
  }
  return { config, weights };
}

/** A Gaussian mixture with K classes on C×H×W images, means uniform in [−m, m], std s (model units). */
export function gaussianMixture(opts: {
  classes: number;
  image: { channels: number; height: number; width: number };
  std: number;
  meanScale: number;
  seed: number;
}): {
  config: GmmConfig;
  weights: Weights;
  means: Float32Array;
} {
  const { channels, height, width } = opts.image;
  const d = channels * height * width;
  const config = GmmConfig.parse({ arch: 'gmm', image: opts.image, numClasses: opts.classes, std: opts.std });
  const rng = new Random(opts.seed);
  const means = new Float32Array(opts.classes * d);
  for (let i = 0; i < means.length; i++) means[i] = opts.meanScale * (2 * rng.uniform() - 1);
  return { config, weights: { means: { data: means, dims: [opts.classes, d] } }, means };
}

/** Samples of a Gaussian mixture in pixel units (model-unit samples clipped to [−1, 1]). */
export function sampleMixture(means: Float32Array, classes: number, std: number, n: number, rng: Random): { pixels: Float32Array; labels: Int32Array } {
  const d = means.length / classes;
  const pixels = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = rng.int(classes);
    labels[i] = y;
    for (let j = 0; j < d; j++) {
      const x = Math.min(1, Math.max(-1, means[y * d + j] + std * rng.gaussian()));
      pixels[i * d + j] = (x + 1) / 2;
    }
  }
  return { pixels, labels };
}

/** Squared distances ‖x − μ_y‖² (model units) of pixel image `i` to every mean. */
export function distancesToMeans(pixels: Float32Array, i: number, means: Float32Array, classes: number): Float64Array {
  const d = means.length / classes;
  const out = new Float64Array(classes);
  for (let y = 0; y < classes; y++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += (2 * pixels[i * d + j] - 1 - means[y * d + j]) ** 2;
    out[y] = s;
  }
  return out;
}

/** log p(x) of a Gaussian mixture with uniform prior (model units), for pixel image `i`. */
export function mixtureLogDensity(pixels: Float32Array, i: number, means: Float32Array, classes: number, std: number): number {
  const d = means.length / classes;
  const dist = distancesToMeans(pixels, i, means, classes);
  const terms = Array.from(dist, (s) => -s / (2 * std * std));
  return logSumExp(terms) - Math.log(classes) - (d / 2) * Math.log(2 * Math.PI * std * std);
}

/**
 * A folder of reference data in `../shared/fixtures/` beside the checkout (made with the reference
 * implementations: AutoAttack, NVIDIA's EDM), or null when it is absent, with the reason printed;
 * tests skip on null. In CI ($CI set) an absent fixture is an error: nothing skips there.
 *
 * @example
 * const dir = sharedFixture('apgd');
 * describe.skipIf(!dir)('APGD against AutoAttack', () => { ... });
 */
export function sharedFixture(name: string): string | null {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  const dir = resolve(repo, '../shared/fixtures', name);
  if (existsSync(dir)) return dir;
  if (process.env.CI) throw new Error(`CI needs the reference data ${dir} (../shared/fixtures/${name} beside the checkout)`);
  process.stderr.write(`skipping the tests on ../shared/fixtures/${name}: ${dir} is absent\n`);
  return null;
}

/** The parity fixtures of `rdc import onnx`, exported by PyTorch (test/fixtures/onnx/export_fixtures.py; committed). */
export const ONNX_FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/onnx');

/** A fixture's four test images (in the network's range), cotangent, and PyTorch's logits and input gradient. */
export interface OnnxFixture {
  inputRange: [number, number];
  input: Tensor;
  cotangent: Tensor;
  logits: Tensor;
  inputGradient: Tensor;
}

/** A fixture with its base64 float32 arrays decoded. */
export function readOnnxFixture(name: string): OnnxFixture {
  const raw = JSON.parse(readFileSync(join(ONNX_FIXTURES, `${name}.json`), 'utf8'));
  const tensor = (t: { dims: number[]; data: string }): Tensor => {
    const b = Buffer.from(t.data, 'base64');
    const data = new Float32Array(b.byteLength / 4);
    new Uint8Array(data.buffer).set(b);
    return { dims: t.dims, data };
  };
  return {
    inputRange: raw.inputRange,
    input: tensor(raw.input),
    cotangent: tensor(raw.cotangent),
    logits: tensor(raw.logits),
    inputGradient: tensor(raw.inputGradient),
  };
}

/**
 * The import graph of a package's source folder between its units (its top-level folders and
 * files; tests excluded), and the units that reach themselves through it: a package whose units form
 * a strict order has none (no import runs back up a layer). The layering tests of core, attacks and
 * serve read it.
 *
 * @example
 * expect(importCycles(srcDir).cyclic).toEqual([]);
 */
export function importCycles(root: string): { edges: Map<string, Set<string>>; cyclic: string[] } {
  const unitOf = (file: string) => relative(root, file).split(sep)[0].replace(/\.ts$/, '');
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) files.push(p);
    }
  };
  walk(root);
  const edges = new Map<string, Set<string>>();
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const [a, b] = [unitOf(f), unitOf(resolve(dirname(f), m[1]))];
      if (a === b) continue;
      if (!edges.has(a)) edges.set(a, new Set());
      edges.get(a)!.add(b);
    }
  }
  const reach = (a: string, seen = new Set<string>()): Set<string> => {
    for (const b of edges.get(a) ?? []) if (!seen.has(b)) reach(b, seen.add(b));
    return seen;
  };
  return { edges, cyclic: [...edges.keys()].filter((a) => reach(a).has(a)) };
}
