/**
 * Shape algebra of the graph description: broadcasting, products of symbolic dimensions, ONNX
 * reshape semantics, axes; the op table's shape rules are written with these.
 *
 * @example
 * broadcastShapes(['N', 3, 1, 1], [1, 3, 8, 8]); // ['N', 3, 8, 8]
 */
import type { Dim, Shape } from './types.js';

/** A shape in words: [N, 3, 32, 32]. */
export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Numpy broadcasting of two shapes; symbols only match themselves or 1. */
export function broadcastShapes(a: Shape, b: Shape): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else throw new Error(`cannot broadcast shapes ${formatShape(a)} and ${formatShape(b)}`);
  }
  return out;
}

/** A product of dimensions as coefficient × symbols (symbols sorted), e.g. N*S*16 → {k: 16, syms: [N, S]}. */
export interface Monomial {
  k: number;
  syms: string[];
}

export function monomial(d: Dim): Monomial {
  if (typeof d === 'number') return { k: d, syms: [] };
  const m: Monomial = { k: 1, syms: [] };
  for (const part of d.split('*')) {
    if (/^\d+$/.test(part)) m.k *= Number(part);
    else m.syms.push(part);
  }
  m.syms.sort();
  return m;
}

export function toDim(m: Monomial): Dim {
  if (m.syms.length === 0) return m.k;
  return [...m.syms, ...(m.k === 1 ? [] : [String(m.k)])].join('*');
}

function productOf(dims: readonly Dim[]): Monomial {
  const out: Monomial = { k: 1, syms: [] };
  for (const d of dims) {
    const m = monomial(d);
    out.k *= m.k;
    out.syms.push(...m.syms);
  }
  out.syms.sort();
  return out;
}

/** a / b when it is exact, else null. */
function divide(a: Monomial, b: Monomial): Monomial | null {
  if (b.k === 0 || a.k % b.k !== 0) return null;
  const syms = [...a.syms];
  for (const s of b.syms) {
    const i = syms.indexOf(s);
    if (i < 0) return null;
    syms.splice(i, 1);
  }
  return { k: a.k / b.k, syms };
}

/** Output shape of a reshape with ONNX semantics (0 copies the input dim, −1 is inferred). */
export function reshapeShape(input: Shape, target: readonly number[]): Dim[] {
  const out: Dim[] = target.map((t, i) => {
    if (t === 0) {
      if (i >= input.length) throw new Error(`reshape: 0 at position ${i} but the input ${formatShape(input)} has rank ${input.length}`);
      return input[i];
    }
    return t;
  });
  const total = productOf(input);
  const minus = target.indexOf(-1);
  if (minus >= 0) {
    if (target.lastIndexOf(-1) !== minus) throw new Error(`reshape: at most one −1 in ${formatShape(target)}`);
    const q = divide(total, productOf(out.filter((_, i) => i !== minus)));
    if (!q) throw new Error(`reshape: cannot reshape ${formatShape(input)} into ${formatShape(target)}`);
    out[minus] = toDim(q);
  } else {
    const q = divide(total, productOf(out));
    if (!q || q.k !== 1 || q.syms.length) throw new Error(`reshape: ${formatShape(input)} and ${formatShape(target)} have different sizes`);
  }
  return out;
}

export function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`${what}: axis ${axis} out of range for rank ${rank}`);
  return a;
}
