import type { DenoiserNetworkConfig } from '../config/schema.js';
import { SIGMA_DATA } from '../edm/precond.js';
import { denoiserBuilder } from './denoiser.js';
import { GraphBuilder, type Graph } from './graph.js';

/**
 * The method's objectives as graphs around a denoiser. Every engine runs these same graphs, and the
 * differentiable engines differentiate them, so the DC's input gradient, LM's gradient and the
 * training loss are defined once.
 */

/**
 * Partial DC logits of one image over a chunk of S noise levels (rdc-method.md §2):
 *
 *   logits_y = − Σ_i w_i · mean_pixels((D^w(x + σ_i·n_i; σ_i, y) − x)²),
 *   D^w_y = (1 + w)·D_y − w·D_∅   (w = `guidance`, 0 by default)
 *
 * Inputs: `x` [1, C, H, W] (clean, model units), `noise` [S, C, H, W], `sigma` [S], `weights` [S],
 * `guidance` [1]. Output: `logits` [1, K]. Differentiating `logits` with respect to `x` gives the
 * exact input gradient (x appears both inside the denoiser and as the target).
 */
export function dcChunkGraph(cfg: DenoiserNetworkConfig): Graph {
  const g = new GraphBuilder();
  const { channels: c, height: h, width: w } = cfg.image;
  const k = cfg.numClasses;
  const x = g.input('x', [1, c, h, w]);
  const noise = g.input('noise', ['S', c, h, w]);
  const sigma = g.input('sigma', ['S']);
  const weights = g.input('weights', ['S']);
  const guidance = g.input('guidance', [1]);
  const xs = g.add(x, g.mul(g.reshape(sigma, [-1, 1, 1, 1]), noise));
  const d = denoiserBuilder(cfg)(g, xs, sigma);
  const cls = g.slice(d, 1, 0, k);
  const unc = g.slice(d, 1, k, k + 1);
  const guided = g.add(cls, g.mul(g.sub(cls, unc), guidance));
  const diff = g.sub(guided, g.reshape(x, [1, 1, c, h, w]));
  const err = g.reduceMean(g.square(diff), [2, 3, 4]); // [S, K]
  const logits = g.neg(g.matmul(g.reshape(weights, [1, -1]), err)); // [1, K]
  g.output('logits', logits);
  return g.build();
}

/**
 * The likelihood-maximization objective of rdc-method.md §3, one value per image:
 *   loss_b = mean_pixels((D(x_b + σ_b·n_b; σ_b, ∅) − x_b)²)
 * Inputs: `x` [B, C, H, W], `noise` [B, C, H, W], `sigma` [B]. Output: `loss` [B].
 * The gradient of Σ_b loss_b with respect to x flows through the denoiser's input and the target.
 */
export function lmObjectiveGraph(cfg: DenoiserNetworkConfig): Graph {
  const g = new GraphBuilder();
  const { channels: c, height: h, width: w } = cfg.image;
  const k = cfg.numClasses;
  const x = g.input('x', ['B', c, h, w]);
  const noise = g.input('noise', ['B', c, h, w]);
  const sigma = g.input('sigma', ['B']);
  const xs = g.add(x, g.mul(g.reshape(sigma, [-1, 1, 1, 1]), noise));
  const d = denoiserBuilder(cfg)(g, xs, sigma);
  const unc = g.reshape(g.slice(d, 1, k, k + 1), [0, c, h, w]);
  g.output('loss', g.reduceMean(g.square(g.sub(unc, x)), [1, 2, 3]));
  return g.build();
}

/**
 * The EDM training loss (rdc-method.md §1) over a batch:
 *   loss = mean_n Σ_k mask[n, k] · λ(σ_n) · mean_pixels((D(x_n + σ_n·n_n; σ_n)[k] − target[n, k])²)
 * For training from data, target[n, k] = x_n and mask selects the true class and the unconditional
 * head; for distillation, target holds the teacher's D and mask is all ones.
 * Inputs: `x`, `noise` [N, C, H, W], `sigma` [N], `target` [N, K+1, C, H, W], `mask` [N, K+1].
 * Output: `loss` (a scalar).
 */
export function edmLossGraph(cfg: DenoiserNetworkConfig, opts: { training?: boolean } = {}): Graph {
  const g = new GraphBuilder();
  const { channels: c, height: h, width: w } = cfg.image;
  const k = cfg.numClasses;
  const x = g.input('x', ['N', c, h, w]);
  const noise = g.input('noise', ['N', c, h, w]);
  const sigma = g.input('sigma', ['N']);
  const target = g.input('target', ['N', k + 1, c, h, w]);
  const mask = g.input('mask', ['N', k + 1]);
  const xs = g.add(x, g.mul(g.reshape(sigma, [-1, 1, 1, 1]), noise));
  const d = denoiserBuilder(cfg)(g, xs, sigma, opts);
  const err = g.reduceMean(g.square(g.sub(d, target)), [2, 3, 4]); // [N, K+1]
  const sd2 = SIGMA_DATA * SIGMA_DATA;
  const s2 = g.square(sigma);
  const lambda = g.div(g.add(s2, sd2), g.mul(s2, sd2)); // [N]
  const perImage = g.mul(g.reduceSum(g.mul(err, mask), [1]), lambda);
  g.output('loss', g.reduceMean(perImage, [0]));
  return g.build();
}
