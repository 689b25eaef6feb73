import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CnnConfig, lmPreset, UNetConfig } from '../config/schema.js';
import { DcClassifier, RdcClassifier } from '../method/classifier.js';
import { DiffusionClassifier } from '../method/dc.js';
import { LikelihoodMaximizer } from '../method/lm.js';
import { gradientGraph } from '../nn/autodiff.js';
import { adamwStepGraph } from '../nn/optimizer.js';
import { buildClassifierGraph } from '../nn/cnn.js';
import { buildDenoiserGraph } from '../nn/denoiser.js';
import type { Graph } from '../nn/graph.js';
import { initWeights } from '../nn/init.js';
import { dcChunkGraph, edmLossGraph, lmObjectiveGraph, lmUnrolledGraph } from '../nn/objectives.js';
import { Random } from '../rng/random.js';
import { relativeError, type Tensor } from '../tensor.js';
import { tinyUNet } from '../testing.js';
import { Denoiser } from './denoiser.js';
import { hasVulkanLoader, selectDevice, vulkanDrivers } from './device.js';
import type { Weights } from './engine.js';
import { DeviceTensor, OrtEngine } from './ort.js';

/**
 * Every graph kind the project emits, on ONNX Runtime's WebGPU provider against its CPU provider
 * (tiny networks): in CI on Mesa's software Vulkan driver (lavapipe), on a GPU machine on the GPU.
 * Outside CI, without Vulkan, the tests skip with the reason; in CI a missing Vulkan fails them.
 */
const vulkan = process.platform !== 'linux' || (hasVulkanLoader() && vulkanDrivers().length > 0);
if (!vulkan) {
  const why = `WebGPU needs the Vulkan loader and a driver (apt-get install libvulkan1 mesa-vulkan-drivers; found loader: ${hasVulkanLoader()}, drivers: ${vulkanDrivers().length})`;
  if (process.env.CI) throw new Error(`CI must run the WebGPU tests: ${why}`);
  process.stderr.write(`skipping the WebGPU parity tests: ${why}\n`);
}

let gpu: OrtEngine;
let cpu: OrtEngine;
beforeAll(async () => {
  if (!vulkan) return;
  gpu = await OrtEngine.create({ threads: 1, device: selectDevice('webgpu') });
  cpu = await OrtEngine.create({ threads: 1 });
}, 120_000);
afterAll(() => undefined);

function feedsFor(graph: Graph, seed: number, positive: string[] = []): Record<string, Tensor> {
  const rng = new Random(seed);
  const out: Record<string, Tensor> = {};
  for (const i of graph.inputs) {
    const dims = i.shape.map((d) => (typeof d === 'number' ? d : 2));
    const n = dims.reduce((a, b) => a * b, 1);
    const data = positive.includes(i.name) ? Float32Array.from({ length: n }, () => 0.1 + rng.uniform()) : rng.normal(n).map((v) => 0.5 * Math.tanh(v));
    out[i.name] = { data, dims };
  }
  return out;
}

/** The graph's outputs on both providers agree to a norm-relative 1e-4. */
async function agree(graph: Graph, weights: Weights, feeds: Record<string, Tensor>): Promise<void> {
  const a = await (await gpu.compile(graph, { weights })).run(feeds);
  const b = await (await cpu.compile(graph, { weights })).run(feeds);
  for (const k of Object.keys(b)) {
    expect(a[k].dims, k).toEqual(b[k].dims);
    expect(relativeError(a[k].data, b[k].data), k).toBeLessThan(1e-4);
  }
}

describe.skipIf(!vulkan)('WebGPU provider against the CPU provider', () => {
  const { config, weights } = tinyUNet({ seed: 11 });
  const label = UNetConfig.parse({ ...config, conditioning: 'label', numClasses: 3 });
  const labelWeights = initWeights(buildDenoiserGraph(label), 12);

  it('the denoiser: multi-head and label-conditional', async () => {
    await agree(buildDenoiserGraph(config), weights, feedsFor(buildDenoiserGraph(config), 1, ['sigma']));
    const g = buildDenoiserGraph(label);
    const f = feedsFor(g, 2, ['sigma']);
    f.labels = { data: Float32Array.of(1, 0, 0, 0, 0, 1), dims: [2, 3] };
    await agree(g, labelWeights, f);
  });

  it('the DC chunk and its input gradient (both network kinds)', async () => {
    for (const [net, w] of [
      [config, weights],
      [label, labelWeights],
    ] as const) {
      const dc = dcChunkGraph(net);
      const feeds = feedsFor(dc, 3, ['sigma', 'weights']);
      feeds.guidance = { data: Float32Array.of(0), dims: [1] };
      await agree(dc, w, feeds);
      const vjp = gradientGraph(dc, { of: 'logits', wrt: ['x'] });
      await agree(vjp, w, { ...feeds, cotangent: { data: new Random(4).normal(3), dims: [1, 3] } });
    }
  });

  it("LM's gradient, LM unrolled and its gradient (the RDC's full gradient)", async () => {
    const lm = gradientGraph(lmObjectiveGraph(config), { of: 'loss', wrt: ['x'] });
    await agree(lm, weights, feedsFor(lm, 5, ['sigma', 'cotangent']));
    const unrolledCfg = { ...lmPreset('released'), steps: 2 };
    const unrolled = gradientGraph(lmUnrolledGraph(config, unrolledCfg), { of: 'out', wrt: ['x'] });
    const feeds = feedsFor(unrolled, 6, ['sigma']);
    feeds.x = { data: feeds.x.data.subarray(0, 192), dims: [1, 3, 8, 8] };
    feeds.cotangent = { data: new Random(7).normal(192), dims: [1, 3, 8, 8] };
    await agree(unrolled, weights, feeds);
  });

  it('a training step: the loss and every weight gradient; one SGD step gives the same weights', async () => {
    const loss = edmLossGraph(config);
    const names = Object.keys(weights);
    const feeds = feedsFor(loss, 8, ['sigma', 'mask']);
    const step = async (e: OrtEngine) => {
      const { grads } = await (await e.compileGradient(loss, { of: 'loss', wrt: names })).run(feeds, { weights });
      return names.flatMap((n) => Array.from(weights[n].data.map((w, i) => w - 0.1 * grads[n].data[i])));
    };
    const a = await step(gpu);
    const b = await step(cpu);
    const before = names.flatMap((n) => Array.from(weights[n].data));
    expect(relativeError(b, before)).toBeGreaterThan(1e-4);
    expect(relativeError(a, b)).toBeLessThan(1e-4);
  });

  it('two training steps with the optimizer in the graph, weights fed back from step to step, match the CPU', async () => {
    const loss = edmLossGraph(config);
    const step = adamwStepGraph(loss);
    const keep = step.outputs.map((o) => o.name).filter((n) => n.startsWith('next.'));
    const batch = feedsFor(loss, 15, ['sigma', 'mask']);
    const run = async (e: OrtEngine) => {
      const fn = await e.compileResident(step, keep);
      let state: Record<string, Tensor | DeviceTensor> = {};
      for (const p of loss.params) {
        state[p.name] = weights[p.name];
        for (const k of ['m', 'v']) state[`${k}.${p.name}`] = { data: new Float32Array(weights[p.name].data.length), dims: [...p.shape] };
        state[`ema.${p.name}`] = weights[p.name];
      }
      const s = (v: number): Tensor => ({ data: Float32Array.of(v), dims: [1] });
      for (let t = 1; t <= 2; t++) {
        const out = await fn.run({
          ...batch,
          ...state,
          cotangent: { data: Float32Array.of(1), dims: [] },
          lr: s(0.01),
          c1: s(1 - 0.9 ** t),
          c2: s(1 - 0.999 ** t),
          clip: s(1),
          weight_decay: s(0.01),
          ema_beta: s(0.9),
        });
        state = Object.fromEntries(
          Object.entries(out)
            .filter(([k]) => k.startsWith('next.'))
            .map(([k, v]) => [k.slice(5).replace(/^w\./, ''), v]),
        );
      }
      return (await Promise.all(loss.params.map(async (p) => (await (state[p.name] as DeviceTensor).download()).data))).flatMap((d) => Array.from(d));
    };
    const a = await run(gpu);
    const b = await run(cpu);
    expect(relativeError(a, b)).toBeLessThan(1e-4);
  });

  it("the classifier's input gradient (the baseline CNN)", async () => {
    const net = CnnConfig.parse({ arch: 'cnn', widths: [8, 16], image: { channels: 3, height: 8, width: 8 } });
    const g = gradientGraph(buildClassifierGraph(net), { of: 'logits', wrt: ['x'] });
    await agree(g, initWeights(buildClassifierGraph(net), 9), feedsFor(g, 10));
  });

  it('the DC and the RDC give the same predictions for the same seed', async () => {
    const rng = new Random(13);
    const pixels = { data: Float32Array.from({ length: 4 * 192 }, () => rng.uniform()), dims: [4, 3, 8, 8] };
    const predictions = async (e: OrtEngine) => {
      const den = new Denoiser(e, config, weights);
      const dc = new DiffusionClassifier(den, { levels: 4, chunk: 4 });
      const out: number[] = [];
      for (const clf of [new DcClassifier(dc), new RdcClassifier(dc, new LikelihoodMaximizer(den, lmPreset('paper')))]) {
        const z = (await clf.logits(pixels, new Random(14))).data;
        for (let i = 0; i < 4; i++) out.push(Array.from(z.subarray(3 * i, 3 * i + 3)).reduce((b, v, j, a) => (v > a[b] ? j : b), 0));
      }
      return out;
    };
    expect(await predictions(gpu)).toEqual(await predictions(cpu));
  });
});
