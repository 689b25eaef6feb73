import { Random, type Classifier, type Tensor } from '@rdc/core/runtime';
import { Apgd } from '../attacks/apgd.js';
import { Square } from '../attacks/square.js';
import type { Attack } from '../attack.js';
import type { ThreatModel } from '../threat.js';
import { FixedNoiseClassifier } from '../wrappers.js';
import { evaluateRobustness, type RobustSummary } from './robust.js';

/**
 * The sanity checks of the adaptive-attack literature (Carlini et al. 2019; Tramèr et al. 2020),
 * run on a subset of the images:
 * 1. a large ε drives robust accuracy to ~0;
 * 2. robust accuracy does not rise with ε;
 * 3. nor with more iterations;
 * 4. the gradient-free Square attack does not beat the gradient attacks by a wide margin (else the
 *    gradients are probably masked);
 * 5. the exact gradient agrees with directional finite differences (noise held fixed).
 *
 * @example
 * const checks = await runSanityChecks({ classifier, exactGradient: dc, threat, attack, ... });
 */
export interface SanityCheck {
  name: string;
  passed: boolean;
  detail: string;
}

export interface SanityOptions {
  classifier: Classifier;
  /** The classifier whose gradient is exact (the DC inside an RDC evaluated by BPDA). */
  exactGradient: Classifier;
  threat: ThreatModel;
  /** The gradient attack to probe with (e.g. APGD-CE of the protocol). */
  attack: { iterations: number; restarts: number; loss: 'ce' | 'dlr' };
  images: (position: number) => Tensor;
  labels: number[];
  indices: number[];
  seed: number;
  /** Robust accuracy of the worst-case gradient attack on the same subset (from the main run), if known. */
  gradientRobust?: number;
  /** ε sweep of the main run, if any: (ε, worst-case robust accuracy). */
  sweep?: { eps: number; robust: number }[];
  eot?: number;
  recheck?: number;
  squareQueries?: number;
  onProgress?: (check: string) => void;
}

export async function runSanityChecks(o: SanityOptions): Promise<SanityCheck[]> {
  const n = o.labels.length;
  const slack = 1 / n + 1e-9; // one image
  const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
  const evaluate = async (attack: Attack, threat: ThreatModel): Promise<RobustSummary> =>
    evaluateRobustness({
      classifier: o.classifier,
      attacks: [attack],
      threat,
      images: o.images,
      labels: o.labels,
      indices: o.indices,
      seed: o.seed,
      eot: o.eot,
      recheck: o.recheck,
    });
  const apgd = (iterations: number) => new Apgd({ loss: o.attack.loss, iterations, restarts: o.attack.restarts });
  const checks: SanityCheck[] = [];

  o.onProgress?.('large ε');
  const large: ThreatModel = { norm: o.threat.norm, eps: o.threat.norm === 'linf' ? Math.min(1, 8 * o.threat.eps) : 8 * o.threat.eps };
  const atLarge = (await evaluate(apgd(o.attack.iterations), large)).worstCase.rate;
  checks.push({
    name: 'large ε drives robust accuracy to ~0',
    passed: atLarge <= 0.1,
    detail: `${pct(atLarge)} robust at ε = ${large.eps.toFixed(4)} (${n} images)`,
  });

  o.onProgress?.('ε monotonicity');
  let sweep = o.sweep;
  if (!sweep || sweep.length < 2) {
    sweep = [];
    for (const f of [0.5, 1, 2])
      sweep.push({ eps: f * o.threat.eps, robust: (await evaluate(apgd(o.attack.iterations), { ...o.threat, eps: f * o.threat.eps })).worstCase.rate });
  }
  const sorted = [...sweep].sort((a, b) => a.eps - b.eps);
  const rises = sorted.slice(1).filter((s, i) => s.robust > sorted[i].robust + slack);
  checks.push({
    name: 'robust accuracy does not rise with ε',
    passed: rises.length === 0,
    detail: sorted.map((s) => `ε ${s.eps.toFixed(4)}: ${pct(s.robust)}`).join(', '),
  });

  o.onProgress?.('more iterations');
  const base = (await evaluate(apgd(o.attack.iterations), o.threat)).worstCase.rate;
  const more = (await evaluate(apgd(2 * o.attack.iterations), o.threat)).worstCase.rate;
  checks.push({
    name: 'robust accuracy does not rise with more iterations',
    passed: more <= base + slack,
    detail: `APGD-${o.attack.loss.toUpperCase()} alone on these ${n} images (not the worst case over the protocol's attacks): ${pct(base)} robust after ${o.attack.iterations} iterations, ${pct(more)} after ${2 * o.attack.iterations}; passes unless the longer attack leaves more images robust`,
  });

  o.onProgress?.('Square');
  const square = (await evaluate(new Square({ queries: o.squareQueries ?? 500 }), o.threat)).worstCase.rate;
  const gradient = Math.min(o.gradientRobust ?? Infinity, base, more);
  const masked = square < gradient - 0.1;
  checks.push({
    name: 'Square does not beat the gradient attacks by a wide margin',
    passed: !masked,
    detail: `Square (score-based, no gradients) leaves ${pct(square)} robust, the gradient attacks ${pct(gradient)}; passes unless Square is more than 10 points lower${masked ? ': WARNING, the gradients look masked; trust the Square number and use EOT/BPDA' : ''}`,
  });

  o.onProgress?.('finite differences');
  checks.push(await gradientCheck(o.exactGradient, o.images(0), o.labels[0], o.seed));
  return checks;
}

/**
 * Directional central differences of ⟨c, logits(x)⟩ (a random c: a smooth function of the pixels,
 * unlike a saturated softmax) against the exact gradient, noise held fixed. Each direction tries three
 * steps and keeps the best agreement: large steps suffer curvature (and ReLU kinks in a CNN), small ones
 * float32 rounding of the DC's weighted errors; a wrong gradient disagrees at every step.
 */
export async function gradientCheck(clf: Classifier, x: Tensor, _label: number, seed: number): Promise<SanityCheck> {
  const fixed = new FixedNoiseClassifier(clf, seed);
  const rng = new Random(seed);
  const c = rng.normal(clf.numClasses);
  const inner = x.data.map((v) => 0.05 + 0.9 * v); // keep x ± h inside [0, 1]
  const f = async (p: Float32Array) => (await fixed.logits({ data: p, dims: x.dims })).data.reduce((a, z, i) => a + z * c[i], 0);
  const { grad } = await fixed.gradient({ data: inner, dims: x.dims }, () => c);
  const errors: number[] = [];
  for (let t = 0; t < 3; t++) {
    const v = rng.normal(inner.length);
    const norm = Math.sqrt(v.reduce((a, b) => a + b * b, 0));
    const an = grad.data.reduce((a, g, i) => a + (g * v[i]) / norm, 0);
    let best = Infinity;
    for (const h of [5e-2, 1e-2, 2e-3]) {
      const fd = ((await f(inner.map((p, i) => p + (h * v[i]) / norm))) - (await f(inner.map((p, i) => p - (h * v[i]) / norm)))) / (2 * h);
      best = Math.min(best, Math.abs(fd - an) / Math.max(Math.abs(fd), 1e-8));
    }
    errors.push(best);
  }
  const worst = Math.max(...errors);
  return {
    name: 'the exact gradient matches finite differences',
    passed: worst <= 5e-2,
    detail: `largest relative error over 3 directions: ${worst.toExponential(2)} (${clf.defense === 'none' ? 'network' : 'DC'} logits, noise fixed)`,
  };
}
