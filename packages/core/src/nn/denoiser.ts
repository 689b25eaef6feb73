import type { DenoiserNetworkConfig } from '../config/schema.js';
import { GraphBuilder, type Graph, type V } from './graph.js';
import { addGmmDenoiser } from './gmm.js';
import { addUNetDenoiser } from './unet.js';

/**
 * A denoiser network in graph form: x [N, C, H, W] (noised, model units) and σ [N] in,
 * D [N, K+1, C, H, W] out (K class heads, then the unconditional head).
 */
export type DenoiserBuilder = (g: GraphBuilder, x: V, sigma: V, opts?: { training?: boolean }) => V;

/** The builder for a denoiser config (UNet or Gaussian-mixture oracle). */
export function denoiserBuilder(cfg: DenoiserNetworkConfig): DenoiserBuilder {
  switch (cfg.arch) {
    case 'unet':
      return (g, x, sigma, opts) => addUNetDenoiser(g, cfg, x, sigma, opts?.training ?? false);
    case 'gmm':
      return (g, x, sigma) => addGmmDenoiser(g, cfg, x, sigma);
  }
}

/** The plain denoiser graph: inputs `x`, `sigma`; output `D`. */
export function buildDenoiserGraph(cfg: DenoiserNetworkConfig, opts: { training?: boolean } = {}): Graph {
  const g = new GraphBuilder();
  const { channels, height, width } = cfg.image;
  const x = g.input('x', ['N', channels, height, width]);
  const sigma = g.input('sigma', ['N']);
  g.output('D', denoiserBuilder(cfg)(g, x, sigma, opts));
  return g.build();
}
