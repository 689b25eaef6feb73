import type { NetworkConfig } from '../config/schema.js';
import { buildClassifierGraph } from '../nn/cnn.js';
import { buildDenoiserGraph } from '../nn/denoiser.js';
import { gradientGraph } from '../nn/autodiff.js';
import type { Graph } from '../nn/graph.js';
import { dcChunkGraph, lmObjectiveGraph } from '../nn/objectives.js';

export type GraphKind = 'denoiser' | 'dcChunk' | 'dcVjp' | 'lmGrad' | 'classifier' | 'classifierVjp';

/** What each reverse-pass graph differentiates. */
export const GRADIENTS = {
  dcVjp: { of: 'logits', wrt: ['x'] },
  lmGrad: { of: 'loss', wrt: ['x'] },
  classifierVjp: { of: 'logits', wrt: ['x'] },
} as const;

/**
 * The graphs a model folder ships: for a diffusion model the denoiser, the DC chunk, and the
 * reverse passes of the DC logits (attacks) and of the LM objective (RDC); for a CNN the classifier
 * and its input gradient. With these, ONNX Runtime alone runs everything.
 */
export function buildNetworkGraphs(network: NetworkConfig): Partial<Record<GraphKind, Graph>> {
  if (network.arch === 'cnn') {
    const classifier = buildClassifierGraph(network);
    return { classifier, classifierVjp: gradientGraph(classifier, { of: 'logits', wrt: ['x'] }) };
  }
  const dcChunk = dcChunkGraph(network);
  return {
    denoiser: buildDenoiserGraph(network),
    dcChunk,
    dcVjp: gradientGraph(dcChunk, { of: 'logits', wrt: ['x'] }),
    lmGrad: gradientGraph(lmObjectiveGraph(network), { of: 'loss', wrt: ['x'] }),
  };
}
