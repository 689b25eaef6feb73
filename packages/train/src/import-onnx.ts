/**
 * `rdc import onnx`: a classifier exported from PyTorch (`torch.onnx.export`) → a sealed model
 * folder (core's `importOnnxClassifier` reads it into the network description): config.json with
 * the kind, input range, the ONNX ops, the source file's sha256 and, given CIFAR-10, the clean
 * accuracy on the first 1 000 test images measured at import; a MODEL_CARD.md stub with those facts.
 * Nothing is written when the file is refused.
 *
 * @example
 * await importOnnx({ file: 'resnet.onnx', modelDir: 'models/resnet', inputRange: [0, 1], engine, test: () => loadCifar10(dir, 'test', { limit: 1000 }) });
 */
import { basename } from 'node:path';
import {
  DcConfig,
  forwardMacs,
  ImageSpec,
  importOnnxClassifier,
  NetworkClassifier,
  parameterCount,
  wilson,
  writeModelFolder,
  buildClassifierGraph,
  argmax,
  type Engine,
  type ImportedConfig,
  type ModelConfig,
} from '@rdc/core';
import { CIFAR10_CLASSES, type Cifar10 } from './data/cifar10.js';

/** Test images of the clean accuracy measured at import. */
export const IMPORT_TEST_IMAGES = 1000;

export interface ImportOnnxOptions {
  file: string;
  modelDir: string;
  /** The pixel range the network expects (`--input-range`, default [0, 1]). */
  inputRange: [number, number];
  /** What to call it (default: the file's name without .onnx). */
  name?: string;
  engine: Engine;
  /** The first test images (clean accuracy at import); absent: not measured. */
  test?: () => Cifar10;
  command?: string;
  provenance?: Record<string, unknown>;
  onProgress?: (done: number, total: number) => void;
}

/** Clean accuracy as measured at import: the first `images` test images. */
export interface ImportAccuracy {
  images: number;
  correct: number;
  accuracy: number;
  ci95: [number, number];
}

async function cleanAccuracy(clf: NetworkClassifier, data: Cifar10, onProgress?: (done: number, total: number) => void): Promise<ImportAccuracy> {
  const n = Math.min(IMPORT_TEST_IMAGES, data.size);
  let correct = 0;
  for (let start = 0; start < n; start += 50) {
    const idx = Array.from({ length: Math.min(50, n - start) }, (_, i) => start + i);
    const predicted = argmax((await clf.logits(data.pixels(idx))).data, clf.numClasses);
    idx.forEach((img, i) => {
      if (predicted[i] === data.labels[img]) correct++;
    });
    onProgress?.(start + idx.length, n);
  }
  const w = wilson(correct, n);
  return { images: n, correct, accuracy: correct / n, ci95: [w.low, w.high] };
}

export async function importOnnx(o: ImportOnnxOptions): Promise<{ config: ModelConfig; accuracy: ImportAccuracy | null }> {
  const name = o.name ?? basename(o.file).replace(/\.onnx$/i, '');
  const { network, weights } = importOnnxClassifier(o.file, { image: ImageSpec.parse({}), numClasses: CIFAR10_CLASSES.length, inputRange: o.inputRange });
  const withName: ImportedConfig = { ...network, name };
  const accuracy = o.test ? await cleanAccuracy(new NetworkClassifier(o.engine, withName, weights), o.test(), o.onProgress) : null;
  const config = writeModelFolder(o.modelDir, {
    network: withName,
    weights,
    classes: CIFAR10_CLASSES,
    dc: DcConfig.parse({}),
    temperature: null,
    calibration: null,
    training: { mode: 'imported', command: o.command, source: network.source, cleanAccuracy: accuracy, importedBy: o.provenance },
    card: importCard(withName, accuracy, o.command),
  });
  return { config, accuracy };
}

function importCard(n: ImportedConfig, acc: ImportAccuracy | null, command?: string): string {
  const g = buildClassifierGraph(n);
  const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
  return `# Model card: ${n.name}

An image classifier imported from ONNX with this project's \`rdc import onnx\`: its graph read into
this project's network description (not run as an opaque ONNX graph), so every engine computes its
logits and input gradients, and every road (eval, attack, certify, classify, serve) takes it. Not a
diffusion classifier: it is attacked and certified as it is (defense \`none\`).

## Network

- Source: \`${n.source.file}\` (${n.source.bytes} bytes, sha256 \`${n.source.sha256}\`), opset ${n.source.opset}, made by ${n.source.producer}.
- ONNX ops: ${n.source.ops.join(', ')}.
- Input: N×${n.image.channels}×${n.image.height}×${n.image.width} pixels in [${n.inputRange.join(', ')}] (every road feeds images in this range); output: ${n.numClasses} logits.
- ${(parameterCount(g) / 1e6).toFixed(3)} M parameters, ${(forwardMacs(g) / 1e6).toFixed(1)} M MACs per image.
- Command: \`${command ?? 'unknown'}\`

## Clean accuracy

${
  acc
    ? `${pct(acc.accuracy)} [${pct(acc.ci95[0])}, ${pct(acc.ci95[1])}] (${acc.correct} of the first ${acc.images} CIFAR-10 test images, 95 % Wilson interval), measured at import.`
    : 'Not measured at import (no --data-dir): run `rdc eval --model DIR --limit 1000`.'
}

## Evaluation

Robust accuracy: \`rdc attack --model DIR --protocol standard --eps 8/255\` (AutoAttack's standard
protocol), then \`--record\` writes its section here.
`;
}
