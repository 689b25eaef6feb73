/**
 * Seconds per attack iteration (one loss gradient, as APGD takes per step) for the DC and the RDC
 * (LM by BPDA, and the full gradient through LM) on one image at S σ levels, per engine, one thread.
 */
import { OrtEngine, Random, TfjsEngine, type Classifier, type Engine, type DenoiserNetworkConfig, type Weights } from '@rdc/core';
import { lossAndGrad } from '@rdc/attacks';
import { benchInputs, diffusionClassifiers } from './diffusion.js';
import { round, time } from './timing.js';

export async function benchAttacks(
  network: DenoiserNetworkConfig,
  o: { levels: number; minSeconds: number; weights?: Weights; tfjs: boolean },
) {
  const { weights, image: x } = benchInputs(network, o.weights, 4);
  const step = (clf: Classifier) => () => clf.gradient(x, (l) => lossAndGrad('dlr', l, 0).grad, new Random(0));
  const perEngine = async (engine: Engine, full: boolean) => {
    const factory = diffusionClassifiers(engine, network, weights);
    const dc = { levels: o.levels };
    const out: Record<string, number> = {};
    out.dc = (await time(step(factory.get({ defense: 'dc', dc })), { minSeconds: o.minSeconds, minReps: 2 })).medianSeconds;
    out['rdc-bpda'] = (await time(step(factory.get({ defense: 'rdc', dc, gradient: 'bpda' })), { minSeconds: o.minSeconds, minReps: 2 })).medianSeconds;
    if (full)
      out['rdc-full'] = (await time(step(factory.get({ defense: 'rdc', dc, gradient: 'full' })), { minSeconds: o.minSeconds, minReps: 2 })).medianSeconds;
    await factory.dispose();
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, round(v)]));
  };
  const result: Record<string, unknown> = {
    levels: o.levels,
    threads: 1,
    secondsPerIteration: { ort: await perEngine(await OrtEngine.create({ threads: 1 }), true) },
  };
  if (o.tfjs) (result.secondsPerIteration as Record<string, unknown>)['tfjs-wasm'] = await perEngine(await TfjsEngine.create('wasm'), false);
  return result;
}
