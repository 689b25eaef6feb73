/**
 * k fresh draws of a classifier's answer: what every re-check counts (the evaluation's re-checks,
 * the null attack, one-image attacks). A deterministic classifier is called once and its answer
 * repeated.
 *
 * @example
 * const a = await drawAnswer(clf, x, 5, new Random(0));
 * a.top; a.draws;
 */
import { softmax, type Classifier, type Random } from '@rdc/core/runtime';
import { predicted } from '../losses.js';

/** An answer from k fresh draws: each draw's class, the most frequent class, and its mean probability. */
export interface DrawnAnswer {
  draws: number[];
  top: number;
  /** The mean over the draws of the top class's probability. */
  probability: number;
  /** The mean over the draws of every class's probability. */
  probabilities: number[];
}

/**
 * k fresh draws of a classifier's answer (one call repeated on a deterministic classifier); the
 * noise from one stream, or draw i's from its own generator (`rng(i)`: e.g. one seed per draw, so
 * that a classification with that seed repeats it).
 */
export async function drawAnswer(clf: Classifier, x: Float32Array, k: number, rng: Random | ((draw: number) => Random)): Promise<DrawnAnswer> {
  const K = clf.numClasses;
  const draws: number[] = [];
  const sum = new Float64Array(K);
  for (let i = 0; i < k; i++) {
    const z = i > 0 && !clf.stochastic ? null : (await clf.logits({ data: x, dims: [1, ...clf.imageDims] }, typeof rng === 'function' ? rng(i) : rng)).data;
    if (!z) {
      draws.push(draws[0]);
      continue;
    }
    draws.push(predicted(z));
    const p = softmax(
      Array.from(z, (v) => v / clf.temperature),
      K,
    );
    for (let c = 0; c < K; c++) sum[c] += p[c];
  }
  const computed = clf.stochastic ? k : Math.min(k, 1);
  const probabilities = Array.from(sum, (v) => v / computed);
  const counts = new Array<number>(K).fill(0);
  for (const d of draws) counts[d]++;
  let top = draws[0];
  for (let c = 0; c < K; c++) if (counts[c] > counts[top] || (counts[c] === counts[top] && probabilities[c] > probabilities[top])) top = c;
  return { draws, top, probability: probabilities[top], probabilities };
}
