#!/usr/bin/env node
/**
 * @rdc/core and @rdc/attacks from another project's code: the first 4 CIFAR-10 test images (from
 * RDC_DATA_DIR) against a model folder — clean and robust accuracy under APGD-CE at ε = 2/255 (ℓ∞),
 * and a Cohen certification (σ 0.25, n0 10, n 100) of each image with the model's plain network
 * (a classifier's: `none`; a diffusion model's: the DC). Prints one JSON object on stdout, nothing else:
 *
 *   {"images":4,"cleanAccuracy":0.5,"robustAccuracy":0.25,"certified":[{"prediction":3,"radius":0.12},…]}
 *
 * (an abstention is prediction −1 with radius 0, as core's certify returns it).
 *
 * Usage: RDC_DATA_DIR=path/to/cifar-10-batches-bin node attack.mjs MODEL_DIR
 */
import { ClassifierFactory, createEngine, certify, isClassifierNetwork, loadCifar10, Random, readModelFolder } from '@rdc/core';
import { Apgd, evaluateRobustness } from '@rdc/attacks';

const [dir] = process.argv.slice(2);
const dataDir = process.env.RDC_DATA_DIR;
if (!dir || !dataDir) {
  process.stderr.write('usage: RDC_DATA_DIR=path/to/cifar-10-batches-bin node attack.mjs MODEL_DIR\n');
  process.exit(2);
}

const model = readModelFolder(dir);
const engine = await createEngine('ort', { threads: 1 });
const factory = new ClassifierFactory(model, engine);
const plain = isClassifierNetwork(model.config.network);
const classifier = factory.get({ defense: plain ? 'none' : 'dc' });
const data = loadCifar10(dataDir, 'test', { limit: 4 });
const indices = [0, 1, 2, 3];

const robust = await evaluateRobustness({
  classifier,
  attacks: [new Apgd({ loss: 'ce', iterations: 100 })],
  threat: { norm: 'linf', eps: 2 / 255 },
  images: (p) => data.pixels([indices[p]]),
  labels: Array.from(data.labels),
  indices,
  recheck: 1,
  seed: 0,
});

const base = factory.smoothingBase(plain ? 'none' : 'dc', { sigma: 0.25 });
const certified = [];
for (const i of indices) {
  const c = await certify(base, data.pixels([i]), { sigma: 0.25, n0: 10, n: 100, alpha: 0.001, batch: 50 }, new Random(i));
  certified.push({ prediction: c.prediction, radius: c.radius });
}

process.stdout.write(JSON.stringify({ images: indices.length, cleanAccuracy: robust.clean.rate, robustAccuracy: robust.worstCase.rate, certified }) + '\n');
