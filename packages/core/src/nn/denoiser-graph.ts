/**
 * A denoiser network in graph form: x [N, C, H, W] (noised, model units), σ [N] and, for a
 * label-conditional network, one-hot labels [N, K] in; D [N, heads, C, H, W] out: K class heads and
 * the unconditional head for a multi-head network (or the Gaussian-mixture oracle), one head for
 * EDM's label-conditional and unconditional networks.
 */
import type { DenoiserNetworkConfig } from '../config/schema.js';
import { GraphBuilder, type Graph, type V } from './graph/index.js';
import { addGmmDenoiser } from './gmm.js';
import { addUNetDenoiser, headCount } from './unet.js';

export type DenoiserBuilder = (g: GraphBuilder, x: V, sigma: V, opts?: { training?: boolean; labels?: V }) => V;

/** The builder for a denoiser config (UNet or Gaussian-mixture oracle). */
export function denoiserBuilder(cfg: DenoiserNetworkConfig): DenoiserBuilder {
  switch (cfg.arch) {
    case 'unet':
      return (g, x, sigma, opts) => addUNetDenoiser(g, cfg, x, sigma, opts?.training ?? false, opts?.labels);
    case 'gmm':
      return (g, x, sigma) => addGmmDenoiser(g, cfg, x, sigma);
  }
}

/** Output heads of a denoiser (see `DenoiserBuilder`). */
export function denoiserHeads(cfg: DenoiserNetworkConfig): number {
  return cfg.arch === 'unet' ? headCount(cfg) : cfg.numClasses + 1;
}

/** Whether the network takes one-hot labels (EDM's class-conditional network). */
export function takesLabels(cfg: DenoiserNetworkConfig): boolean {
  return cfg.arch === 'unet' && cfg.conditioning === 'label';
}

/**
 * The index of the unconditional head, or null when the network has none (a label-conditional
 * network: LM then needs a separate unconditional network).
 */
export function unconditionalHead(cfg: DenoiserNetworkConfig): number | null {
  if (cfg.arch === 'unet' && cfg.conditioning === 'label') return null;
  if (cfg.arch === 'unet' && cfg.conditioning === 'none') return 0;
  return cfg.numClasses;
}

/** The plain denoiser graph: inputs `x`, `sigma` (and `labels` [N, K] for a label-conditional network); output `D`. */
export function buildDenoiserGraph(cfg: DenoiserNetworkConfig, opts: { training?: boolean } = {}): Graph {
  const g = new GraphBuilder();
  const { channels, height, width } = cfg.image;
  const x = g.input('x', ['N', channels, height, width]);
  const sigma = g.input('sigma', ['N']);
  const labels = takesLabels(cfg) ? g.input('labels', ['N', cfg.numClasses]) : undefined;
  g.output('D', denoiserBuilder(cfg)(g, x, sigma, { ...opts, labels }));
  return g.build();
}
