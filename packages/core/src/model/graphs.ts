import type { NetworkConfig } from '../config/schema.js';
import { buildClassifierGraph } from '../nn/cnn.js';
import { buildDenoiserGraph } from '../nn/denoiser.js';
import type { Graph } from '../nn/graph.js';
import { dcChunkGraph } from '../nn/objectives.js';

/** The forward graphs a model folder ships for a network: denoiser + DC chunk, or classifier. */
export function buildNetworkGraphs(network: NetworkConfig): Partial<Record<'denoiser' | 'dcChunk' | 'classifier', Graph>> {
  if (network.arch === 'cnn') return { classifier: buildClassifierGraph(network) };
  return { denoiser: buildDenoiserGraph(network), dcChunk: dcChunkGraph(network) };
}
