/** Helpers of the gradient rules: undoing broadcasting, and reshaping to (possibly symbolic) shapes. */
import type { GraphBuilder } from '../graph/builder.js';
import type { Dim, V } from '../graph/types.js';

/** Sums `g` down to `target` (numpy broadcasting in reverse). */
export function unbroadcast(b: GraphBuilder, g: V, target: readonly Dim[]): V {
  const gs = g.shape;
  if (gs.length === target.length && gs.every((d, i) => d === target[i])) return g;
  const lead = gs.length - target.length;
  const axes: number[] = [];
  for (let i = 0; i < gs.length; i++) {
    if (i < lead) axes.push(i);
    else if (target[i - lead] === 1 && gs[i] !== 1) axes.push(i);
  }
  let r = axes.length ? b.reduceSum(g, axes, true) : g;
  if (lead > 0 || r.shape.length !== target.length) r = reshapeTo(b, r, target);
  return r;
}

/** Reshapes to a (possibly symbolic) shape: static dims as they are, one symbolic dim as −1. */
export function reshapeTo(b: GraphBuilder, x: V, target: readonly Dim[]): V {
  if (x.shape.length === target.length && x.shape.every((d, i) => d === target[i])) return x;
  const symbolic = target.filter((d) => typeof d !== 'number');
  if (symbolic.length > 1) throw new Error(`autodiff: cannot reshape to [${target.join(', ')}] (more than one symbolic dimension)`);
  return b.reshape(
    x,
    target.map((d) => (typeof d === 'number' ? d : -1)),
  );
}

export function sameShape(a: readonly Dim[], b: readonly Dim[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
