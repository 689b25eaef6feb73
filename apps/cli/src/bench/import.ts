/**
 * The import suite (`pnpm bench --suite import`): an imported ONNX classifier (by default the parity
 * fixture's small ResNet) at a batch, one thread: forward and input-gradient images/s through this
 * project's network description on ONNX Runtime, beside the same ONNX file run directly by
 * onnxruntime-node (forward) and beside PyTorch on the same architecture (forward and input gradient;
 * scripts/bench/torch_import.py, when Debian's python3-torch is installed). Ratios are ours ÷ theirs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildClassifierGraph, forwardMacs, ImageSpec, importOnnxClassifier, OrtEngine, Random } from '@rdc/core';
import * as ort from 'onnxruntime-node';
import { round, time } from './timing.js';

export interface ImportBenchOptions {
  /** The .onnx file (default: test/fixtures/onnx/resnet.onnx). */
  file?: string;
  batch: number;
  minSeconds: number;
  /** The Python with torch, for the PyTorch side (skipped, with the reason, when it cannot run). */
  python: string;
}

const ROOT = resolve(import.meta.dirname, '../../../..');

function pytorch(python: string, batch: number, minSeconds: number): { forward_img_s: number; gradient_img_s: number; engine: string } | { skipped: string } {
  const script = join(ROOT, 'scripts/bench/torch_import.py');
  try {
    const out = execFileSync(python, [script, '--batch', String(batch), '--threads', '1', '--min-seconds', String(minSeconds)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return JSON.parse(out.trim().split('\n').slice(-1)[0]);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { skipped: `${python} ${script} failed: ${(e.stderr || e.message).trim().split('\n').slice(-1)[0]}` };
  }
}

export async function benchImport(o: ImportBenchOptions) {
  const file = o.file ?? join(ROOT, 'test/fixtures/onnx/resnet.onnx');
  if (!existsSync(file)) throw new Error(`${file}: no such file`);
  const { network, weights } = importOnnxClassifier(file, { image: ImageSpec.parse({}), numClasses: 10, inputRange: [0, 1] });
  const graph = buildClassifierGraph(network);
  const rng = new Random(0);
  const n = o.batch;
  const x = { data: rng.normal(n * 3072).map((v) => Math.max(-1, Math.min(1, v / 3))), dims: [n, 3, 32, 32] };
  const cotangent = { data: rng.normal(n * 10), dims: [n, 10] };
  const engine = await OrtEngine.create({ threads: 1 });
  const forward = await engine.compile(graph, { weights });
  const gradient = await engine.compileGradient(graph, { of: 'logits', wrt: ['x'] }, { weights });
  // The same file, run directly (its own input name, pixels in [0, 1]).
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  const feed = {
    [session.inputNames[0]]: new ort.Tensor(
      'float32',
      x.data.map((v) => (v + 1) / 2),
      x.dims,
    ),
  };
  // Ours and the direct session in turns, three rounds, the best median of each (the machine's load drifts).
  const rounds = { forward: [] as number[], direct: [] as number[] };
  for (let r = 0; r < 3; r++) {
    rounds.forward.push((await time(() => forward.run({ x }), { minSeconds: o.minSeconds / 3 })).medianSeconds);
    rounds.direct.push((await time(() => session.run(feed), { minSeconds: o.minSeconds / 3 })).medianSeconds);
  }
  const tForward = { medianSeconds: Math.min(...rounds.forward) };
  const tDirect = { medianSeconds: Math.min(...rounds.direct) };
  const tGradient = await time(() => gradient.run({ x }, { cotangent }), { minSeconds: o.minSeconds });
  forward.dispose();
  gradient.dispose();
  await session.release();
  const ours = { forwardImagesPerSecond: n / tForward.medianSeconds, gradientImagesPerSecond: n / tGradient.medianSeconds };
  const torch = pytorch(o.python, n, o.minSeconds);
  return {
    file,
    batch: n,
    threads: 1,
    macsPerImage: forwardMacs(graph),
    ours: { forwardImagesPerSecond: round(ours.forwardImagesPerSecond), gradientImagesPerSecond: round(ours.gradientImagesPerSecond) },
    onnxruntimeDirect: {
      forwardImagesPerSecond: round(n / tDirect.medianSeconds),
      forwardRatio: round(ours.forwardImagesPerSecond / (n / tDirect.medianSeconds)),
    },
    pytorch:
      'skipped' in torch
        ? torch
        : {
            engine: torch.engine,
            forwardImagesPerSecond: round(torch.forward_img_s),
            gradientImagesPerSecond: round(torch.gradient_img_s),
            forwardRatio: round(ours.forwardImagesPerSecond / torch.forward_img_s),
            gradientRatio: round(ours.gradientImagesPerSecond / torch.gradient_img_s),
          },
  };
}
