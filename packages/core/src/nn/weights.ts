import type { Weights } from '../tensor.js';
import { Random } from '../rng/random.js';
import type { Graph } from './graph/index.js';

/**
 * Fresh weights for every parameter of a graph, from each parameter's initialiser and a seed.
 *
 * @example
 * const weights = initWeights(graph, 0);
 */
export function initWeights(graph: Graph, seed: number): Weights {
  const rng = new Random(seed);
  const out: Weights = {};
  for (const p of graph.params) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const init = p.init;
    if (init.kind === 'ones') data.fill(1);
    else if (init.kind === 'normal') for (let i = 0; i < n; i++) data[i] = init.std * rng.gaussian();
    else if (init.kind === 'uniform') for (let i = 0; i < n; i++) data[i] = init.bound * (2 * rng.uniform() - 1);
    out[p.name] = { data, dims: [...p.shape] };
  }
  return out;
}

/** Checks that every param of `graph` has a weight of the right size. */
export function checkWeights(graph: Graph, weights: Weights): void {
  for (const p of graph.params) {
    const w = weights[p.name];
    if (!w) throw new Error(`missing weight '${p.name}' (shape [${p.shape.join(', ')}])`);
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (w.data.length !== n) throw new Error(`weight '${p.name}' has ${w.data.length} values; the network needs [${p.shape.join(', ')}] = ${n}`);
  }
}
