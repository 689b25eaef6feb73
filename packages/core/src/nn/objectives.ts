/**
 * The method's objectives as graphs around a denoiser. Every engine runs these same graphs, and the
 * differentiable engines differentiate them, so the DC's input gradient, LM's gradient and the
 * training loss are defined once.
 */
import type { DenoiserNetworkConfig, LmConfig } from '../config/schema.js';
import { ADAM } from '../math/adam.js';
import { appendReverse } from './autodiff.js';
import { adamGraphStep } from './optimizer.js';
import { SIGMA_DATA } from '../edm/coefficients.js';
import { denoiserBuilder, denoiserHeads, takesLabels, unconditionalHead } from './denoiser-graph.js';
import { GraphBuilder, type Graph, type V } from './graph/index.js';
import { pixelLengthToModel } from '../tensor.js';

/**
 * Partial DC logits of one image over a chunk of S noise levels (docs/method.md §2):
 *
 *   logits_y = − Σ_i w_i · mean_pixels((D^w(x + σ_i·n_i; σ_i, y) − x)²),
 *   D^w_y = (1 + w)·D_y − w·D_∅   (w = `guidance`, 0 by default)
 *
 * A multi-head network gives every D_y in one pass per level. A label-conditional network (EDM's)
 * takes K passes per level, batched as K·S images with the same noise for every class; guidance
 * needs an unconditional head, so there it must be 0.
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
  let err: V; // [S, K]
  if (takesLabels(cfg)) {
    // Class-major batch: row y·S + s is level s with label y; the identity [K, 1, K] broadcast over S.
    const eye = g.constant(
      Array.from({ length: k * k }, (_, i) => (i % (k + 1) === 0 ? 1 : 0)),
      [k, 1, k],
    );
    const labels = g.reshape(g.add(eye, g.mul(g.reshape(sigma, [1, -1, 1]), 0)), [-1, k]);
    const d = denoiserBuilder(cfg)(g, g.repeat(xs, k), g.repeat(sigma, k), { labels }); // [K·S, 1, C, H, W]
    const diff = g.sub(g.reshape(d, [k, -1, c, h, w]), g.reshape(x, [1, 1, c, h, w])); // [K, S, C, H, W]
    err = g.transpose(g.reduceMean(g.square(diff), [2, 3, 4]), [1, 0]);
  } else {
    const d = denoiserBuilder(cfg)(g, xs, sigma);
    const cls = g.slice(d, 1, 0, k);
    const unc = g.slice(d, 1, k, k + 1);
    const guided = g.add(cls, g.mul(g.sub(cls, unc), guidance));
    err = g.reduceMean(g.square(g.sub(guided, g.reshape(x, [1, 1, c, h, w]))), [2, 3, 4]);
  }
  g.output('logits', g.neg(g.matmul(g.reshape(weights, [1, -1]), err))); // [1, K]
  return g.build();
}

/**
 * Logits of a batch of images over the same S noise levels, for the diffusion classifiers of noisy
 * images (certification: many noisy copies of one image at once). One form serves the DC, APNDC and
 * EPNDC (docs/method.md §2, §8, `sigma/terms.ts`):
 *
 *   z_bs = x_b + scale_s·n_bs,  term_bsy = α_s·D_y(z_bs; σ_s) + β_s·z_bs − γ_s·x_b,
 *   logits_by = −Σ_s w_s·mean_pixels(term_bsy²)
 *
 * (the DC: scale = σ, α = γ = 1, β = 0). Inputs: x [B, C, H, W] (model units), noise [B, S, C, H, W],
 * sigma [B, S] (each row the grid), scale [B, S], alpha, beta, gamma, weights [S] → logits [B, K]. One
 * network pass per image and level (K for a label-conditional network), all in one batch; S is fixed
 * when the graph is built.
 */
export function dcBatchGraph(cfg: DenoiserNetworkConfig, levels: number): Graph {
  const g = new GraphBuilder();
  const { channels: c, height: h, width: w } = cfg.image;
  const k = cfg.numClasses;
  const s = levels;
  const x = g.input('x', ['B', c, h, w]);
  const noise = g.input('noise', ['B', s, c, h, w]);
  const sigma = g.input('sigma', ['B', s]);
  const scale = g.input('scale', ['B', s]);
  const [alpha, beta, gamma, weights] = ['alpha', 'beta', 'gamma', 'weights'].map((name) => g.input(name, [s]));
  const z = g.add(g.reshape(x, [-1, 1, c, h, w]), g.mul(g.reshape(scale, [-1, s, 1, 1, 1]), noise)); // [B, S, C, H, W]
  const zs = g.reshape(z, [-1, c, h, w]); // [B·S, C, H, W]
  const sig = g.reshape(sigma, [-1]);
  // The class heads as [B, S, K, C, H, W] (multi-head) or [K, B, S, C, H, W] (class-major batch).
  const classMajor = takesLabels(cfg);
  let cls: V;
  if (classMajor) {
    const eye = g.constant(
      Array.from({ length: k * k }, (_, i) => (i % (k + 1) === 0 ? 1 : 0)),
      [k, 1, k],
    );
    const labels = g.reshape(g.add(eye, g.mul(g.reshape(sig, [1, -1, 1]), 0)), [-1, k]);
    cls = g.reshape(denoiserBuilder(cfg)(g, g.repeat(zs, k), g.repeat(sig, k), { labels }), [k, -1, s, c, h, w]);
  } else cls = g.reshape(g.slice(denoiserBuilder(cfg)(g, zs, sig), 1, 0, k), [-1, s, k, c, h, w]);
  const perLevel = (v: V) => g.reshape(v, classMajor ? [1, 1, s, 1, 1, 1] : [1, s, 1, 1, 1, 1]);
  const z6 = g.reshape(z, classMajor ? [1, -1, s, c, h, w] : [-1, s, 1, c, h, w]);
  const x6 = g.reshape(x, classMajor ? [1, -1, 1, c, h, w] : [-1, 1, 1, c, h, w]);
  const term = g.sub(g.add(g.mul(perLevel(alpha), cls), g.mul(perLevel(beta), z6)), g.mul(perLevel(gamma), x6));
  let err = g.reduceMean(g.square(term), [3, 4, 5]); // [B, S, K] or [K, B, S]
  if (classMajor) err = g.transpose(err, [1, 2, 0]);
  g.output('logits', g.neg(g.reduceSum(g.mul(err, g.reshape(weights, [1, s, 1])), [1]))); // [B, K]
  return g.build();
}

/** The unconditional head of D [N, heads, C, H, W] as [N, C, H, W] (LM's denoiser). */
function unconditional(g: GraphBuilder, cfg: DenoiserNetworkConfig, d: V): V {
  const u = unconditionalHead(cfg);
  if (u === null) throw new Error('lm: a label-conditional network has no unconditional head; give LM an unconditional network');
  const { channels: c, height: h, width: w } = cfg.image;
  return g.reshape(g.slice(d, 1, u, u + 1), [0, c, h, w]);
}

/**
 * The likelihood-maximization objective of docs/method.md §3, one value per image:
 *   loss_b = mean_pixels((D(x_b + σ_b·n_b; σ_b, ∅) − x_b)²)
 * Inputs: `x` [B, C, H, W], `noise` [B, C, H, W], `sigma` [B]. Output: `loss` [B].
 * The gradient of Σ_b loss_b with respect to x flows through the denoiser's input and the target.
 */
export function lmObjectiveGraph(cfg: DenoiserNetworkConfig): Graph {
  const g = new GraphBuilder();
  const { channels: c, height: h, width: w } = cfg.image;
  const x = g.input('x', ['B', c, h, w]);
  const noise = g.input('noise', ['B', c, h, w]);
  const sigma = g.input('sigma', ['B']);
  g.output('loss', lmObjective(g, cfg, x, noise, sigma));
  return g.build();
}

/**
 * The EDM training loss (docs/method.md §1) over a batch:
 *   loss = mean_n Σ_h mask[n, h] · λ(σ_n) · mean_pixels((D(x_n + σ_n·n_n; σ_n)[h] − target[n, h])²)
 * over the network's heads h. For training a multi-head network from data, target[n, h] = x_n and
 * mask selects the true class and the unconditional head; for distillation, target holds the
 * teacher's D and mask is all ones. A label-conditional network has one head and a `labels` input.
 * Inputs: `x`, `noise` [N, C, H, W], `sigma` [N], `target` [N, heads, C, H, W], `mask` [N, heads]
 * (and `labels` [N, K]). Output: `loss` (a scalar).
 *
 * `crossEntropy` adds weight × the cross-entropy of the DC's logits at the sampled σ (an input
 * `classes` [N, K], one-hot): a discriminative term that trains every class head on every image.
 */
export function edmLossGraph(cfg: DenoiserNetworkConfig, opts: { training?: boolean; crossEntropy?: { weight: number; scale: number } } = {}): Graph {
  const g = new GraphBuilder();
  const { channels: c, height: h, width: w } = cfg.image;
  const heads = denoiserHeads(cfg);
  const x = g.input('x', ['N', c, h, w]);
  const noise = g.input('noise', ['N', c, h, w]);
  const sigma = g.input('sigma', ['N']);
  const target = g.input('target', ['N', heads, c, h, w]);
  const mask = g.input('mask', ['N', heads]);
  const labels = takesLabels(cfg) ? g.input('labels', ['N', cfg.numClasses]) : undefined;
  const xs = g.add(x, g.mul(g.reshape(sigma, [-1, 1, 1, 1]), noise));
  const d = denoiserBuilder(cfg)(g, xs, sigma, { ...opts, labels });
  const err = g.reduceMean(g.square(g.sub(d, target)), [2, 3, 4]); // [N, heads]
  const sd2 = SIGMA_DATA * SIGMA_DATA;
  const s2 = g.square(sigma);
  const lambda = g.div(g.add(s2, sd2), g.mul(s2, sd2)); // [N]
  const perImage = g.mul(g.reduceSum(g.mul(err, mask), [1]), lambda);
  let loss = g.reduceMean(perImage, [0]);
  const ce = opts.crossEntropy;
  if (ce && ce.weight > 0) {
    // The DC at the sampled σ: logits −scale·λ(σ)·err_k of the K class heads, and their cross-entropy
    // against the label (input `classes` [N, K], one-hot): every class head learns from every image.
    if (takesLabels(cfg)) throw new Error('edm loss: the cross-entropy term needs the multi-head network (all class heads in one pass)');
    const classes = g.input('classes', ['N', cfg.numClasses]);
    const logits = g.mul(g.mul(g.slice(err, 1, 0, cfg.numClasses), g.reshape(lambda, [-1, 1])), -ce.scale);
    const nll = g.neg(g.reduceSum(g.mul(classes, g.logsoftmax(logits, -1)), [1]));
    loss = g.add(loss, g.mul(g.reduceMean(nll, [0]), ce.weight));
  }
  g.output('loss', loss);
  return g.build();
}

/** clamp(u, a, b) = a + relu(u − a) − relu(u − b): piecewise linear, differentiable almost everywhere. */
function clampGraph(g: GraphBuilder, u: V, a: number, b: number): V {
  return g.add(g.sub(g.relu(g.sub(u, a)), g.relu(g.sub(u, b))), a);
}

/** Projection onto the ball of `radius` around x0 (per image), the twin of `projectBall` (math/ball.ts). */
export function projectBallGraph(g: GraphBuilder, x: V, x0: V, ball: 'linf' | 'l2', radius: number): V {
  const d = g.sub(x, x0);
  if (ball === 'linf') return g.add(x0, clampGraph(g, d, -radius, radius));
  const norm = g.sqrt(g.add(g.reduceSum(g.square(d), [1, 2, 3], true), 1e-24));
  const f = g.sub(1, g.relu(g.sub(1, g.div(radius, norm)))); // min(1, r/‖d‖)
  return g.add(x0, g.mul(d, f));
}

/** LM's objective per image, mean_pixels((D(x + σ·n; σ, ∅) − x)²): one definition for the gradient graph and LM unrolled. */
function lmObjective(g: GraphBuilder, cfg: DenoiserNetworkConfig, x: V, noise: V, sigma: V): V {
  const xs = g.add(x, g.mul(g.reshape(sigma, [-1, 1, 1, 1]), noise));
  const unc = unconditional(g, cfg, denoiserBuilder(cfg)(g, xs, sigma));
  return g.reduceMean(g.square(g.sub(unc, x)), [1, 2, 3]);
}

/**
 * Likelihood maximization unrolled as one graph (one image): every Adam step, its inner gradient of
 * the LM objective (a reverse pass inside the graph), the projections and clamps of the preset. The
 * noise draws are inputs, so the graph reproduces a `LikelihoodMaximizer` run exactly (up to float
 * rounding), and differentiating it gives the exact gradient of LM(x) with respect to x: the RDC's
 * `full` gradient mode (second-order: the reverse of a reverse pass).
 *
 * Inputs: `x` [1, C, H, W] (model units), `noise` [N, C, H, W], `sigma` [N]. Output: `out` [1, C, H, W].
 */
export function lmUnrolledGraph(cfg: DenoiserNetworkConfig, lm: LmConfig): Graph {
  const g = new GraphBuilder();
  const { channels: c, height: h, width: w } = cfg.image;
  const n = lm.steps;
  const x0 = g.input('x', [1, c, h, w]);
  const noise = g.input('noise', [n, c, h, w]);
  const sigma = g.input('sigma', [n]);
  const radius = pixelLengthToModel(lm.radius);
  let x = x0;
  let m: V | null = null;
  let v: V | null = null;
  for (let t = 1; t <= n; t++) {
    const marker = g.nodeCount;
    const loss = lmObjective(g, cfg, x, g.slice(noise, 0, t - 1, t), g.slice(sigma, 0, t - 1, t));
    const grad = appendReverse(g, g.nodesSince(marker), new Map([[loss.name, g.constant([1], [1])]]), [x.name]).get(x.name);
    if (!grad) throw new Error('lmUnrolledGraph: the objective does not depend on x');
    const adam = adamGraphStep(g, grad, m, v, 1 - ADAM.beta1 ** t, 1 - ADAM.beta2 ** t);
    m = adam.m;
    v = adam.v;
    x = g.sub(x, g.mul(adam.step, lm.lr));
    if (lm.projectEveryStep) x = projectBallGraph(g, x, x0, lm.ball, radius);
    if (lm.clamp === 'every-step') x = clampGraph(g, x, -1, 1);
  }
  if (!lm.projectEveryStep) x = projectBallGraph(g, x, x0, lm.ball, radius);
  x = clampGraph(g, x, -1, 1);
  g.output('out', x);
  return g.build();
}
