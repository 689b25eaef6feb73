/**
 * The network suite, for planning runs of a large network: forward images/s on ONNX Runtime with 1
 * and 2 threads, and the seconds of one DC prediction at `levels` σ levels, measured over a few
 * levels (`sampleLevels`, all in one chunk) and scaled linearly (the DC's cost is linear in levels).
 */
import { buildDenoiserGraph, forwardMacs, initWeights, memoryModel, openClassifier, OrtEngine, parameterCount, Random, type UNetConfig } from '@rdc/core';
import { forwardRate } from './backbone.js';
import { round, time } from './timing.js';

export async function benchNetwork(network: UNetConfig, o: { batch: number; minSeconds: number; levels: number; sampleLevels: number }) {
  const graph = buildDenoiserGraph(network);
  const weights = initWeights(graph, 0);
  const forward: Record<string, number> = {};
  const dcSeconds: Record<string, number> = {};
  const rng = new Random(3);
  const pixels = {
    data: Float32Array.from({ length: network.image.channels * network.image.height * network.image.width }, () => rng.uniform()),
    dims: [1, network.image.channels, network.image.height, network.image.width],
  };
  for (const threads of [1, 2]) {
    const engine = await OrtEngine.create({ threads });
    forward[`${threads}`] = round(await forwardRate(engine, network, weights, o.batch, o.minSeconds));
    const dc = openClassifier(memoryModel(network, weights), engine, { defense: 'dc', dc: { levels: o.sampleLevels, chunk: o.sampleLevels } });
    const t = await time(() => dc.logits(pixels, new Random(4)), { minSeconds: o.minSeconds, minReps: 2 });
    dcSeconds[`${threads}`] = round((t.medianSeconds * o.levels) / o.sampleLevels);
  }
  const passes = network.conditioning === 'label' ? network.numClasses : 1;
  return {
    network,
    parameters: parameterCount(graph),
    gmacPerPass: round(forwardMacs(graph) / 1e9, 4),
    batch: o.batch,
    forwardImagesPerSecondByThreads: forward,
    dc: { levels: o.levels, passesPerLevel: passes, passes: passes * o.levels, measuredLevels: o.sampleLevels, secondsPerImageByThreads: dcSeconds },
  };
}
