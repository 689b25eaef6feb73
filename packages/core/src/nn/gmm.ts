/**
 * The exact optimal denoiser of a Gaussian mixture, as a network (the oracle of docs/method.md §2).
 *
 * Every class y is N(μ_y, s²I) in model units. For a noised z = x + σn:
 *   D_y(z; σ) = (s²·z + σ²·μ_y) / (s² + σ²)                        (class heads)
 *   D_∅(z; σ) = Σ_y p(y | z)·D_y(z; σ),  p(y | z) ∝ N(z; μ_y, (s² + σ²)I)   (unconditional head)
 * The means are the parameter `means` [K, C·H·W], so they travel as weights like any network's.
 *
 * @example
 * const D = addGmmDenoiser(g, GmmConfig.parse({ arch: 'gmm', numClasses: 3, std: 0.3, image }), x, sigma);
 */
import type { GmmConfig } from '../config/schema.js';
import type { GraphBuilder, V } from './graph/index.js';

export function addGmmDenoiser(g: GraphBuilder, cfg: GmmConfig, x: V, sigma: V): V {
  const { channels, height, width } = cfg.image;
  const k = cfg.numClasses;
  const d = channels * height * width;
  const s2 = cfg.std * cfg.std;
  const means = g.param('means', [k, d], { kind: 'normal', std: 0.5 });

  const z = g.reshape(x, [0, d]); // [N, d]
  const sig2 = g.square(g.reshape(sigma, [-1, 1])); // [N, 1]
  const v = g.add(sig2, s2); // s² + σ²
  const a = g.div(s2, v); // [N, 1]
  const b = g.div(sig2, v); // [N, 1]

  // Class heads: a·z + b·μ_y → [N, K, d]
  const az = g.reshape(g.mul(z, a), [0, 1, d]);
  const bmu = g.mul(g.reshape(b, [-1, 1, 1]), g.reshape(means, [1, k, d]));
  const classHeads = g.add(az, bmu);

  // Posterior p(y | z) = softmax_y((2 z·μ_y − ‖μ_y‖²) / (2v)) (‖z‖² is common to all y).
  const zmu = g.matmul(z, means, false, true); // [N, K]
  const mu2 = g.reshape(g.reduceSum(g.square(means), [1]), [1, k]);
  const logits = g.div(g.sub(g.mul(zmu, 2), mu2), g.mul(v, 2));
  const post = g.softmax(logits, 1);
  const uncond = g.add(g.mul(z, a), g.mul(g.matmul(post, means), b)); // [N, d]

  const all = g.concat([classHeads, g.reshape(uncond, [0, 1, d])], 1); // [N, K+1, d]
  return g.reshape(all, [0, k + 1, channels, height, width]);
}
