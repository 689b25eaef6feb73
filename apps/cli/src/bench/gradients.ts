/**
 * The gradient suite: seconds per exact DC input gradient (S σ levels, one image) and per RDC
 * prediction (LM + DC) on ONNX Runtime and on tfjs-wasm, one thread, same network and weights.
 */
import { OrtEngine, Random, TfjsEngine, type Engine, type DenoiserNetworkConfig, type RdcClassifier, type Weights } from '@rdc/core';
import { benchInputs, diffusionClassifiers } from './diffusion.js';
import { round, time } from './timing.js';

export async function benchGradients(network: DenoiserNetworkConfig, o: { levels: number; minSeconds: number; weights?: Weights }) {
  const { weights, image: px } = benchInputs(network, o.weights, 3);
  const cot = (l: Float32Array) => l.map((_, i) => (i === 0 ? 1 : -1 / (l.length - 1)));

  const perEngine = async (engine: Engine) => {
    const factory = diffusionClassifiers(engine, network, weights);
    const dc = factory.get({ defense: 'dc', dc: { levels: o.levels } });
    const rdc = factory.get({ defense: 'rdc', dc: { levels: o.levels } }) as RdcClassifier;
    const dcGrad = await time(() => dc.gradient(px, cot, new Random(0)), { minSeconds: o.minSeconds, minReps: 2 });
    const dcOnly = await time(() => dc.logits(px, new Random(0)), { minSeconds: o.minSeconds, minReps: 2 });
    const rdcTime = await time(() => rdc.logits(px, new Random(0)), { minSeconds: o.minSeconds, minReps: 2 });
    const lmOnly = await time(() => rdc.lm.run(px), { minSeconds: o.minSeconds, minReps: 2 });
    await factory.dispose();
    return { dcGradientSeconds: dcGrad.medianSeconds, dcSeconds: dcOnly.medianSeconds, rdcSeconds: rdcTime.medianSeconds, lmSeconds: lmOnly.medianSeconds };
  };
  const ort = await perEngine(await OrtEngine.create({ threads: 1 }));
  const wasm = await perEngine(await TfjsEngine.create('wasm'));
  const r = (v: Record<string, number>) => Object.fromEntries(Object.entries(v).map(([k, x]) => [k, round(x)]));
  return {
    levels: o.levels,
    lmSteps: 5,
    threads: 1,
    ort: r(ort),
    'tfjs-wasm': r(wasm),
    ratios: {
      dcGradientTfjsWasmOverOrt: round(wasm.dcGradientSeconds / ort.dcGradientSeconds),
      rdcOverDcOnOrt: round(ort.rdcSeconds / ort.dcSeconds),
      rdcTfjsWasmOverOrt: round(wasm.rdcSeconds / ort.rdcSeconds),
    },
  };
}
