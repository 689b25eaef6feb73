import { SIGMA_DATA } from '../edm/coefficients.js';
import type { GraphBuilder, V } from './graph/index.js';

/** The raw network F(c_in·x; c_noise) → [N, (K+1)·C, H, W] that EDM preconditioning wraps. */
export type RawNetwork = (g: GraphBuilder, xScaled: V, cNoise: V) => V;

/**
 * Wraps a raw network in EDM preconditioning and splits its output into heads:
 * D(x; σ)[k] = c_skip·x + c_out·F(c_in·x; ln(σ)/4)[k] for every head k = 0..K (K = unconditional).
 *
 * Takes x [N, C, H, W] (noised, model units) and σ [N]; returns D [N, K+1, C, H, W].
 */
export function edmPrecond(g: GraphBuilder, x: V, sigma: V, heads: number, net: RawNetwork): V {
  const [, c, h, w] = x.shape as number[];
  const s = g.reshape(sigma, [-1, 1, 1, 1]);
  const denom = g.add(g.square(s), SIGMA_DATA * SIGMA_DATA);
  const root = g.sqrt(denom);
  const cIn = g.div(1, root);
  const cSkip = g.div(SIGMA_DATA * SIGMA_DATA, denom);
  const cOut = g.div(g.mul(s, SIGMA_DATA), root);
  const cNoise = g.mul(g.log(sigma), 0.25);
  const f = net(g, g.mul(x, cIn), cNoise);
  if (f.shape[1] !== heads * c) throw new Error(`edmPrecond: the network emits ${String(f.shape[1])} channels, expected ${heads}·${c}`);
  const f5 = g.reshape(f, [0, heads, c, h, w]);
  const skip = g.reshape(g.mul(x, cSkip), [0, 1, c, h, w]);
  return g.add(skip, g.mul(f5, g.reshape(cOut, [-1, 1, 1, 1, 1])));
}
