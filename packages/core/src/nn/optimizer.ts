/**
 * One AdamW training step as a graph (so weights and optimizer state can stay on a GPU across
 * steps): the loss's reverse pass, the global gradient norm and its clipping, Adam's moments with
 * bias correction, decoupled weight decay (matrices and filters only) and the EMA of the weights.
 *
 * Inputs: the loss graph's inputs, its parameters (the weights), `m.<p>`, `v.<p>`, `ema.<p>` per
 * parameter, the loss's `cotangent` (feed 1), and scalars [1]: `lr`, `c1` = 1 − β1ᵗ, `c2` = 1 − β2ᵗ,
 * `clip` (the largest gradient norm; a huge value turns clipping off), `weight_decay`, `ema_beta`.
 * Outputs: `loss`, `grad_norm`, and `next.w.<p>`, `next.m.<p>`, `next.v.<p>`, `next.ema.<p>`.
 * The arithmetic is the host optimizer's (`adamUpdate`, train's `ema.ts`), in float32.
 *
 * @example
 * const g = adamwStepGraph(edmLossGraph(network, { training: true }));
 */
import { ADAM } from '../math/adam.js';
import { gradientGraph, gradName } from './autodiff.js';
import { GraphBuilder, type Graph, type ParamInfo, type V } from './graph/index.js';

/**
 * Adam's moments and step as graph nodes, the twin of `adamUpdate` (math/adam.ts) with its constants:
 * m' = β1·m + (1 − β1)·g, v' = β2·v + (1 − β2)·g², step = (m'/c1) / (√(v'/c2) + ε) (a null m or v is
 * zero: the first step). √ gets a 1e-30 floor so that the step stays differentiable at v = 0 (LM
 * unrolled is differentiated again).
 */
export function adamGraphStep(g: GraphBuilder, grad: V, m: V | null, v: V | null, c1: V | number, c2: V | number): { m: V; v: V; step: V } {
  const m2 = m ? g.add(g.mul(m, ADAM.beta1), g.mul(grad, 1 - ADAM.beta1)) : g.mul(grad, 1 - ADAM.beta1);
  const v2 = v ? g.add(g.mul(v, ADAM.beta2), g.mul(g.square(grad), 1 - ADAM.beta2)) : g.mul(g.square(grad), 1 - ADAM.beta2);
  const step = g.div(g.div(m2, c1), g.add(g.sqrt(g.add(g.div(v2, c2), 1e-30)), ADAM.eps));
  return { m: m2, v: v2, step };
}

/** Whether AdamW's weight decay applies to a parameter (matrices and filters, not biases and norm scales). */
export const decays = (p: ParamInfo): boolean => p.shape.length >= 2;

export function adamwStepGraph(loss: Graph): Graph {
  const names = loss.params.map((p) => p.name);
  const gg = gradientGraph(loss, { of: 'loss', wrt: names });
  const g = GraphBuilder.extend(gg, 'opt_');
  const value = (n: string): V => {
    const o = gg.outputs.find((x) => x.name === n);
    if (!o) throw new Error(`adamwStepGraph: the gradient graph has no output ${n}`);
    return { name: o.value, shape: gg.shapes[o.value] };
  };
  const scalar = (n: string) => g.input(n, [1]);
  const [lr, c1, c2, clip, weightDecay, emaBeta] = ['lr', 'c1', 'c2', 'clip', 'weight_decay', 'ema_beta'].map(scalar);
  const grads = loss.params.map((p) => value(gradName(p.name)));
  // ‖g‖ over every parameter, and the clipping factor min(1, clip/‖g‖).
  let total: V | null = null;
  for (const gr of grads) {
    const s = g.reshape(
      g.reduceSum(
        g.square(gr),
        gr.shape.map((_, i) => i),
      ),
      [1],
    );
    total = total ? g.add(total, s) : s;
  }
  const norm = g.sqrt(total!);
  const factor = g.sub(1, g.relu(g.sub(1, g.div(clip, g.add(norm, 1e-30)))));
  const decay = g.sub(1, g.mul(lr, weightDecay));
  const keepEma = g.sub(1, emaBeta);
  loss.params.forEach((p, i) => {
    const w: V = { name: p.name, shape: p.shape };
    const m = g.input(`m.${p.name}`, [...p.shape]);
    const v = g.input(`v.${p.name}`, [...p.shape]);
    const e = g.input(`ema.${p.name}`, [...p.shape]);
    const { m: m2, v: v2, step } = adamGraphStep(g, g.mul(grads[i], factor), m, v, c1, c2);
    const w2 = g.sub(decays(p) ? g.mul(w, decay) : w, g.mul(step, lr));
    const e2 = g.add(g.mul(e, emaBeta), g.mul(w2, keepEma));
    g.output(`next.w.${p.name}`, w2);
    g.output(`next.m.${p.name}`, m2);
    g.output(`next.v.${p.name}`, v2);
    g.output(`next.ema.${p.name}`, e2);
  });
  g.output('loss', value('value'));
  g.output('grad_norm', norm);
  return g.build();
}
