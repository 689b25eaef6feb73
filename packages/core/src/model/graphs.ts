import { type DenoiserNetworkConfig, type NetworkConfig, isClassifierNetwork } from '../config/schema.js';
import { buildClassifierGraph } from '../nn/cnn.js';
import { buildDenoiserGraph, unconditionalHead } from '../nn/denoiser-graph.js';
import { gradientGraph } from '../nn/autodiff.js';
import type { Graph } from '../nn/graph/index.js';
import { dcChunkGraph, lmObjectiveGraph } from '../nn/objectives.js';

export type GraphKind = 'denoiser' | 'dcChunk' | 'dcVjp' | 'lmGrad' | 'classifier' | 'classifierVjp';

/** What each reverse-pass graph differentiates. */
export const GRADIENTS = {
  dcVjp: { of: 'logits', wrt: ['x'] },
  lmGrad: { of: 'loss', wrt: ['x'] },
  classifierVjp: { of: 'logits', wrt: ['x'] },
} as const;

/** A graph of a model folder and the weights file it reads. */
export interface FolderGraph {
  graph: Graph;
  weights: 'model.safetensors' | 'lm.safetensors';
}

/**
 * The graphs a model folder ships: for a diffusion model the denoiser, the DC chunk, the reverse
 * pass of the DC logits (attacks) and that of the LM objective (RDC), on the network's own
 * unconditional head or on a separate unconditional network (`lmNetwork`, weights in
 * lm.safetensors: the authors' setup); a label-conditional network without one has no LM graph. For
 * a CNN: the classifier and its input gradient. With these, ONNX Runtime alone runs everything.
 */
export function buildNetworkGraphs(network: NetworkConfig, lmNetwork: DenoiserNetworkConfig | null = null): Partial<Record<GraphKind, FolderGraph>> {
  const main = (graph: Graph): FolderGraph => ({ graph, weights: 'model.safetensors' });
  if (isClassifierNetwork(network)) {
    const classifier = buildClassifierGraph(network);
    return { classifier: main(classifier), classifierVjp: main(gradientGraph(classifier, { of: 'logits', wrt: ['x'] })) };
  }
  const dcChunk = dcChunkGraph(network);
  const out: Partial<Record<GraphKind, FolderGraph>> = {
    denoiser: main(buildDenoiserGraph(network)),
    dcChunk: main(dcChunk),
    dcVjp: main(gradientGraph(dcChunk, GRADIENTS.dcVjp)),
  };
  if (lmNetwork) out.lmGrad = { graph: gradientGraph(lmObjectiveGraph(lmNetwork), GRADIENTS.lmGrad), weights: 'lm.safetensors' };
  else if (unconditionalHead(network) !== null) out.lmGrad = main(gradientGraph(lmObjectiveGraph(network), GRADIENTS.lmGrad));
  return out;
}
