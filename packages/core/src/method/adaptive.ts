/**
 * Adaptive σ evaluation for prediction (`--adaptive`): the DC's logits are a sum over σ levels, so
 * the levels are visited in a fixed random order, in units of `chunk` levels, and the visit stops
 * once the leading class is ahead of every other class by a margin that the spread of the units
 * makes safe. The test: after m of U units, for each rival class k, the lead d_u = T_u[leader] −
 * T_u[k] has mean d̄ and standard error se = s/√m·√((U − m)/(U − 1)) (sampling without replacement
 * from the U units, so se = 0 when all are seen); stop when d̄ − z·se > 0 for every k, with
 * z = Φ⁻¹(1 − α / ((K − 1)·looks)) (Bonferroni over the rival classes and over the looks). Under
 * the normal approximation of d̄, the probability that the adaptive prediction differs from the
 * full grid's (with the same noise) is at most α; the validation figures in the README measure it.
 * At most every unit is visited, which gives exactly the full-grid logits.
 *
 * Gradients (attacks) always use the full grid: the adaptive classifier's prediction estimates the
 * same sum, so an attacker facing it attacks the full-grid DC.
 *
 * @example
 * const order = levelOrder(125, 5);           // 25 units of 5 levels
 * const t = new SequentialLeader({ units: order.length, classes: 10, alpha: 0.01, minUnits: 3 });
 * for (const unit of order) { t.add(await unitSums(unit)); if (t.decided()) break; }
 */
import quantile from '@stdlib/stats-base-dists-normal-quantile';
import { argmax } from '../math/logits.js';
import { Random } from '../rng/random.js';

export interface AdaptiveOptions {
  /** The bound on disagreement with the full grid (normal approximation). */
  alpha: number;
  /** Units seen before the first look (at least 2: the spread needs two). */
  minUnits: number;
}

/** The σ levels in a fixed random order (the same for every image), cut into units of `chunk`. */
export function levelOrder(levels: number, chunk: number, seed = 0x5eed): number[][] {
  const order = Array.from({ length: levels }, (_, i) => i);
  const rng = new Random(seed);
  for (let i = levels - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const units: number[][] = [];
  for (let a = 0; a < levels; a += chunk) units.push(order.slice(a, a + chunk));
  return units;
}

export class SequentialLeader {
  private readonly sums: Float64Array;
  private readonly seen: Float64Array[] = [];
  private readonly z: number;

  constructor(private readonly o: { units: number; classes: number } & AdaptiveOptions) {
    if (!(o.alpha > 0 && o.alpha < 1)) throw new Error(`adaptive: alpha must be in (0, 1), got ${o.alpha}`);
    this.sums = new Float64Array(o.classes);
    const minUnits = Math.max(2, Math.min(o.minUnits, o.units));
    const looks = Math.max(1, o.units - minUnits + 1);
    this.z = quantile(1 - o.alpha / (Math.max(1, o.classes - 1) * looks), 0, 1);
    this.o = { ...o, minUnits };
  }

  /** Adds one unit's per-class sums. */
  add(unit: ArrayLike<number>): void {
    const t = Float64Array.from(unit);
    this.seen.push(t);
    for (let k = 0; k < t.length; k++) this.sums[k] += t[k];
  }

  get unitsSeen(): number {
    return this.seen.length;
  }

  get leader(): number {
    return argmax(this.sums, this.sums.length)[0];
  }

  /** Whether the leader is safe (or every unit has been seen). */
  decided(): boolean {
    const m = this.seen.length;
    const u = this.o.units;
    if (m >= u) return true;
    if (m < this.o.minUnits) return false;
    const c = this.leader;
    const fpc = u > 1 ? (u - m) / (u - 1) : 0;
    for (let k = 0; k < this.sums.length; k++) {
      if (k === c) continue;
      let mean = 0;
      for (const t of this.seen) mean += t[c] - t[k];
      mean /= m;
      let ss = 0;
      for (const t of this.seen) ss += (t[c] - t[k] - mean) ** 2;
      const se = Math.sqrt((ss / (m - 1) / m) * fpc);
      if (!(mean - this.z * se > 0)) return false;
    }
    return true;
  }

  /** The full-grid logits' estimate: the sums scaled by the share of levels seen (exact when all are). */
  estimate(levelsSeen: number, levels: number): Float32Array {
    return Float32Array.from(this.sums, (v) => (v * levels) / levelsSeen);
  }
}
