/**
 * Every graph kind the project emits, run on two ONNX Runtime engines (a GPU provider against the
 * CPU provider) with tiny networks: each check returns the norm-relative error of the first against
 * the second, to be held under `tolerance` (for predictions: the number of differing labels, 0).
 * The WebGPU tests and `rdc info --parity` (the GPU check script) both run this list.
 *
 * @example
 * for (const c of PARITY_CHECKS) console.log(c.name, await c.run(gpu, cpu) <= c.tolerance);
 */
import {
  ADAM,
  adamwStepGraph,
  argmax,
  buildClassifierGraph,
  buildDenoiserGraph,
  ClassifierFactory,
  CnnConfig,
  dcChunkGraph,
  edmLossGraph,
  gradientGraph,
  initWeights,
  lmObjectiveGraph,
  lmPreset,
  lmUnrolledGraph,
  memoryModel,
  Random,
  relativeError,
  UNetConfig,
  type DeviceTensor,
  type Graph,
  type OrtEngine,
  type Tensor,
  type Weights,
} from '@rdc/core';
import { tinyUNet } from '@rdc/core/testing';

export interface ParityCheck {
  name: string;
  tolerance: number;
  run(a: OrtEngine, b: OrtEngine): Promise<number>;
}

/** The tiny networks the checks run (exported for checks of other kinds, such as fp16). */
export const PARITY_NETWORK = tinyUNet({ seed: 11 });
const { config, weights } = PARITY_NETWORK;
const label = UNetConfig.parse({ ...config, conditioning: 'label', numClasses: 3 });
const labelWeights = initWeights(buildDenoiserGraph(label), 12);

/** Random feeds for a graph's inputs (symbolic dimensions 2); `positive` ones in (0.1, 1.1). */
export function feedsFor(graph: Graph, seed: number, positive: string[] = []): Record<string, Tensor> {
  const rng = new Random(seed);
  const out: Record<string, Tensor> = {};
  for (const i of graph.inputs) {
    const dims = i.shape.map((d) => (typeof d === 'number' ? d : 2));
    const n = dims.reduce((x, y) => x * y, 1);
    const data = positive.includes(i.name) ? Float32Array.from({ length: n }, () => 0.1 + rng.uniform()) : rng.normal(n).map((v) => 0.5 * Math.tanh(v));
    out[i.name] = { data, dims };
  }
  return out;
}

/** The largest norm-relative error over the graph's outputs (a shape mismatch is an infinite error). */
export async function outputsError(a: OrtEngine, b: OrtEngine, graph: Graph, w: Weights, feeds: Record<string, Tensor>): Promise<number> {
  const x = await (await a.compile(graph, { weights: w })).run(feeds);
  const y = await (await b.compile(graph, { weights: w })).run(feeds);
  let worst = 0;
  for (const k of Object.keys(y)) {
    if (!x[k] || x[k].dims.join() !== y[k].dims.join()) return Infinity;
    worst = Math.max(worst, relativeError(x[k].data, y[k].data));
  }
  return worst;
}

function flat(w: Weights, names: string[]): number[] {
  return names.flatMap((n) => Array.from(w[n].data));
}

/** Throws when an update left the weights where they were: parity of a no-op would prove nothing. */
function mustMove(after: number[], before: number[]): void {
  if (!(relativeError(after, before) > 1e-4)) throw new Error('the step did not move the weights; the check would be vacuous');
}

export const PARITY_CHECKS: readonly ParityCheck[] = [
  {
    name: 'the denoiser: multi-head and label-conditional',
    tolerance: 1e-4,
    run: async (a, b) => {
      const g = buildDenoiserGraph(label);
      const f = feedsFor(g, 2, ['sigma']);
      f.labels = { data: Float32Array.of(1, 0, 0, 0, 0, 1), dims: [2, 3] };
      return Math.max(
        await outputsError(a, b, buildDenoiserGraph(config), weights, feedsFor(buildDenoiserGraph(config), 1, ['sigma'])),
        await outputsError(a, b, g, labelWeights, f),
      );
    },
  },
  {
    name: 'the DC chunk and its input gradient (both network kinds)',
    tolerance: 1e-4,
    run: async (a, b) => {
      let worst = 0;
      for (const [net, w] of [
        [config, weights],
        [label, labelWeights],
      ] as const) {
        const dc = dcChunkGraph(net);
        const feeds = feedsFor(dc, 3, ['sigma', 'weights']);
        feeds.guidance = { data: Float32Array.of(0), dims: [1] };
        worst = Math.max(worst, await outputsError(a, b, dc, w, feeds));
        const vjp = gradientGraph(dc, { of: 'logits', wrt: ['x'] });
        worst = Math.max(worst, await outputsError(a, b, vjp, w, { ...feeds, cotangent: { data: new Random(4).normal(3), dims: [1, 3] } }));
      }
      return worst;
    },
  },
  {
    name: "LM's gradient, LM unrolled and its gradient (the RDC's full gradient)",
    tolerance: 1e-4,
    run: async (a, b) => {
      const lm = gradientGraph(lmObjectiveGraph(config), { of: 'loss', wrt: ['x'] });
      const unrolled = gradientGraph(lmUnrolledGraph(config, { ...lmPreset('released'), steps: 2 }), { of: 'out', wrt: ['x'] });
      const feeds = feedsFor(unrolled, 6, ['sigma']);
      feeds.x = { data: feeds.x.data.subarray(0, 192), dims: [1, 3, 8, 8] };
      feeds.cotangent = { data: new Random(7).normal(192), dims: [1, 3, 8, 8] };
      return Math.max(await outputsError(a, b, lm, weights, feedsFor(lm, 5, ['sigma', 'cotangent'])), await outputsError(a, b, unrolled, weights, feeds));
    },
  },
  {
    name: 'a training step: the loss and every weight gradient; one SGD step gives the same weights',
    tolerance: 1e-4,
    run: async (a, b) => {
      const loss = edmLossGraph(config);
      const names = Object.keys(weights);
      const feeds = feedsFor(loss, 8, ['sigma', 'mask']);
      const step = async (e: OrtEngine) => {
        const { grads } = await (await e.compileGradient(loss, { of: 'loss', wrt: names })).run(feeds, { weights });
        return names.flatMap((n) => Array.from(weights[n].data.map((w, i) => w - 0.1 * grads[n].data[i])));
      };
      const x = await step(a);
      const y = await step(b);
      mustMove(y, flat(weights, names));
      return relativeError(x, y);
    },
  },
  {
    name: 'two training steps with AdamW and the EMA in the graph, weights fed back from step to step',
    tolerance: 1e-4,
    run: async (a, b) => {
      const loss = edmLossGraph(config);
      const step = adamwStepGraph(loss);
      const keep = step.outputs.map((o) => o.name).filter((n) => n.startsWith('next.'));
      const batch = feedsFor(loss, 15, ['sigma', 'mask']);
      const s = (v: number): Tensor => ({ data: Float32Array.of(v), dims: [1] });
      const run = async (e: OrtEngine) => {
        const fn = await e.compileResident(step, keep);
        let state: Record<string, Tensor | DeviceTensor> = {};
        for (const p of loss.params) {
          state[p.name] = weights[p.name];
          for (const k of ['m', 'v']) state[`${k}.${p.name}`] = { data: new Float32Array(weights[p.name].data.length), dims: [...p.shape] };
          state[`ema.${p.name}`] = weights[p.name];
        }
        for (let t = 1; t <= 2; t++) {
          const out = await fn.run({
            ...batch,
            ...state,
            cotangent: { data: Float32Array.of(1), dims: [] },
            lr: s(0.01),
            c1: s(1 - ADAM.beta1 ** t),
            c2: s(1 - ADAM.beta2 ** t),
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
        const values = (await Promise.all(loss.params.map(async (p) => (await (state[p.name] as DeviceTensor).download()).data))).flatMap((d) => Array.from(d));
        fn.dispose();
        return values;
      };
      const x = await run(a);
      const y = await run(b);
      mustMove(
        y,
        flat(
          weights,
          loss.params.map((p) => p.name),
        ),
      );
      return relativeError(x, y);
    },
  },
  {
    name: "the classifier's input gradient (the baseline CNN)",
    tolerance: 1e-4,
    run: async (a, b) => {
      const net = CnnConfig.parse({ arch: 'cnn', widths: [8, 16], image: { channels: 3, height: 8, width: 8 } });
      const g = gradientGraph(buildClassifierGraph(net), { of: 'logits', wrt: ['x'] });
      return outputsError(a, b, g, initWeights(buildClassifierGraph(net), 9), feedsFor(g, 10));
    },
  },
  {
    name: 'the DC and the RDC give the same predictions for the same seed (differing labels)',
    tolerance: 0,
    run: async (a, b) => {
      const rng = new Random(13);
      const pixels = { data: Float32Array.from({ length: 4 * 192 }, () => rng.uniform()), dims: [4, 3, 8, 8] };
      const predictions = async (e: OrtEngine) => {
        const factory = new ClassifierFactory(memoryModel(config, weights, { lmMethod: 'paper' }), e);
        const dc = { levels: 4, chunk: 4 };
        const out: number[] = [];
        for (const clf of [factory.get({ defense: 'dc', dc }), factory.get({ defense: 'rdc', dc })]) {
          const z = (await clf.logits(pixels, new Random(14))).data;
          out.push(...argmax(z, 3));
        }
        await factory.dispose();
        return out;
      };
      const x = await predictions(a);
      const y = await predictions(b);
      return x.filter((v, i) => v !== y[i]).length;
    },
  },
];

/** Runs every check: `{name, error, tolerance, ok}` each (an exception is a failed check with its message). */
export async function runParityChecks(
  a: OrtEngine,
  b: OrtEngine,
): Promise<{ name: string; error: number | null; tolerance: number; ok: boolean; message?: string }[]> {
  const out = [];
  for (const c of PARITY_CHECKS) {
    try {
      const error = await c.run(a, b);
      out.push({ name: c.name, error, tolerance: c.tolerance, ok: error <= c.tolerance });
    } catch (err) {
      out.push({ name: c.name, error: null, tolerance: c.tolerance, ok: false, message: (err as Error).message });
    }
  }
  return out;
}
