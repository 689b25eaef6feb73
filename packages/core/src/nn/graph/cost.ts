/**
 * What a graph costs: parameters, multiply–accumulates and FLOPs of one forward pass per image.
 *
 * @example
 * forwardMacs(buildDenoiserGraph(cfg)); // MACs per image and pass
 */
import type { Graph, Node, Shape } from './types.js';

/** Number of trainable scalars. */
export function parameterCount(g: Graph): number {
  return g.params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
}

type SizeOf = (shape: Shape) => number;

function sizer(symbols: Record<string, number>): SizeOf {
  return (shape) => shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : (symbols[d] ?? 1)), 1);
}

/**
 * Multiply–accumulates of one node: conv2d and matmul, and the fixed 2×2 resampling filters (EDM's
 * count: C·4 per output pixel down, per input pixel up); 0 for other ops.
 */
function nodeMacs(g: Graph, n: Node, size: SizeOf): number {
  if (n.op === 'avgpool2') return 4 * size(g.shapes[n.output]);
  if (n.op === 'upsample2') return size(g.shapes[n.output]);
  if (n.op === 'conv2d') {
    const w = g.shapes[n.inputs[1]] as number[];
    return size(g.shapes[n.output]) * w[1] * w[2] * w[3];
  }
  if (n.op === 'matmul') {
    const a = g.shapes[n.inputs[0]];
    return size(g.shapes[n.output]) * size([n.transA ? a[a.length - 2] : a[a.length - 1]]);
  }
  return 0;
}

/**
 * Floating-point operations of one forward pass, with every symbolic dimension set to 1
 * (so: per image). Counts multiply–adds as 2 FLOPs for conv and matmul; elementwise ops as 1 per
 * output element.
 */
export function forwardFlops(g: Graph, symbols: Record<string, number> = {}): number {
  const size = sizer(symbols);
  let flops = 0;
  for (const n of g.nodes) {
    const out = g.shapes[n.output];
    if (n.op === 'conv2d' || n.op === 'matmul') flops += 2 * nodeMacs(g, n, size);
    else if (n.op === 'avgpool2' || n.op === 'upsample2') flops += nodeMacs(g, n, size);
    else if (n.op === 'groupnorm' || n.op === 'softmax' || n.op === 'logsoftmax') flops += 5 * size(out);
    else if (n.op !== 'reshape' && n.op !== 'transpose' && n.op !== 'slice' && n.op !== 'concat' && n.op !== 'repeat') flops += size(out);
  }
  return flops;
}

/**
 * Multiply–accumulates of one forward pass per image (every symbolic dimension 1): convolutions
 * (C_out·C_in·k²·H_out·W_out), matrix products and the 2×2 resampling filters, as EDM's MAC counts
 * are made (norms, activations and additions are not counted).
 */
export function forwardMacs(g: Graph, symbols: Record<string, number> = {}): number {
  const size = sizer(symbols);
  return g.nodes.reduce((a, n) => a + nodeMacs(g, n, size), 0);
}

/**
 * Bytes of every value a forward pass computes, per image (float32, every symbolic dimension 1):
 * an upper bound of the activation memory one image of a batch needs (ONNX Runtime reuses buffers,
 * so it needs less). Memory budgets divide by it (`rdc serve --certify-memory`).
 *
 * @example
 * activationBytes(buildDenoiserGraph(cfg)); // ≈ 10 MB for the default model
 */
export function activationBytes(g: Graph, symbols: Record<string, number> = {}): number {
  const size = sizer(symbols);
  return 4 * g.nodes.reduce((a, n) => a + size(g.shapes[n.output]), 0);
}
