/**
 * The certification suite: network passes per second of a randomized-smoothing certification with
 * the noised DC (draws × σ levels in one batch), beside the denoiser's own forward passes per second
 * at the same batch, measured in the same run (their ratio: how close certification comes to the
 * network's throughput; target ≥ 0.9).
 */
import { drawCounts, OrtEngine, Random, type UNetConfig, type Weights } from '@rdc/core';
import { forwardRate } from './backbone.js';
import { benchInputs, diffusionClassifiers } from './diffusion.js';
import { round, time } from './timing.js';

export async function benchCertify(network: UNetConfig, o: { levels: number; draws: number; minSeconds: number; threads?: number; weights?: Weights }) {
  const { weights, image } = benchInputs(network, o.weights, 5);
  const engine = await OrtEngine.create({ threads: o.threads ?? 1 });
  const factory = diffusionClassifiers(engine, network, weights);
  const base = factory.smoothingBase('apndc', { sigma: 0.25, levels: o.levels });
  const rng = new Random(1);
  const draws = o.draws;
  const t = await time(() => drawCounts(base, image, draws, { sigma: 0.25, batch: draws }, rng), { minSeconds: o.minSeconds, minReps: 2 });
  const certifyPasses = (draws * base.passesPerDraw) / t.medianSeconds;
  // The same rows as the certification's largest batch: draws × levels.
  const forwardPasses = await forwardRate(engine, network, weights, draws * o.levels, o.minSeconds);
  await factory.dispose();
  return {
    base: 'apndc',
    levels: o.levels,
    drawsPerBatch: draws,
    passesPerDraw: base.passesPerDraw,
    threads: engine.info.threads,
    certifyPassesPerSecond: round(certifyPasses),
    forwardPassesPerSecond: round(forwardPasses),
    secondsPerDraw: round(t.medianSeconds / draws),
    ratios: { certifyOverForward: round(certifyPasses / forwardPasses) },
  };
}
