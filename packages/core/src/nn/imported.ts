/**
 * An imported classifier's graph (`ImportedConfig`, written by `rdc import onnx`) rebuilt from its
 * stored nodes: the input in model units [−1, 1] is first mapped onto the network's own pixel range,
 * so every road feeds it images as it expects; each node goes through the op table's shape rule
 * again, so a hand-edited description fails here with the node named.
 *
 * @example
 * const logits = addImportedClassifier(g, network, g.input('x', ['N', 3, 32, 32]));
 */
import type { ImportedConfig } from '../config/schema.js';
import type { GraphBuilder, NodeSpec, V } from './graph/index.js';
import { OPS } from './ops/index.js';

export function addImportedClassifier(g: GraphBuilder, cfg: ImportedConfig, x: V): V {
  const [lo, hi] = cfg.inputRange;
  const names = new Map<string, string>();
  // x ∈ [−1, 1] → lo + (x + 1)·(hi − lo)/2.
  names.set(cfg.graph.input, lo === -1 && hi === 1 ? x.name : g.add(g.mul(x, (hi - lo) / 2), (hi + lo) / 2).name);
  for (const p of cfg.graph.params) names.set(p.name, g.param(p.name, p.shape, { kind: 'zeros' }).name);
  for (const c of cfg.graph.consts) names.set(c.name, g.constant(c.values, c.shape).name);
  for (const node of cfg.graph.nodes) {
    if (!(node.op in OPS)) throw new Error(`imported network: unknown op '${node.op}' at ${node.output}`);
    const inputs = node.inputs.map((i) => {
      const name = names.get(i);
      if (name === undefined) throw new Error(`imported network: ${node.output} reads '${i}', which nothing defines`);
      return name;
    });
    const { output, ...fields } = node;
    try {
      names.set(output, g.node({ ...fields, inputs } as NodeSpec).name);
    } catch (err) {
      throw new Error(`imported network: ${output}: ${(err as Error).message}`);
    }
  }
  const out = names.get(cfg.graph.output);
  if (out === undefined) throw new Error(`imported network: the output '${cfg.graph.output}' is not computed`);
  return { name: out, shape: g.shapeOf(out) };
}
