/**
 * Convolutions as ONNX: the plain Conv, or MLAS's blocked (NCHWc) form for ONNX Runtime's CPU
 * provider when the writer is given a block size, and the one-node model that probes it.
 *
 * @example
 * emitConv(e, x, w, bias, y, 1, [64, 32, 3, 3]);
 */
import type { Dim } from '../graph/types.js';
import { attrInt, attrInts, Emitter, FLOAT, IR_VERSION, onnx, valueInfo } from './emitter.js';
import { ONNX_OPSET } from './emitter.js';

export const NCHWC = 'com.microsoft.nchwc';

/**
 * A stride-1 square convolution `out = conv(x, w) (+ bias)` with padding `pad`. With a block size
 * (`OnnxOptions.nchwcBlock`) it runs as MLAS's blocked convolution, as ONNX Runtime's own NCHWc
 * rewrite runs convolutions with constant filters: x reordered to NCHWc (its channels zero-padded
 * to a multiple of the block first where they are not), or left as it is when it has fewer channels
 * than a block; the filter zero-padded and reordered by a reshape and a transpose to OIHWBiBo
 * ([O/B, I/B, k·k, Bi, Bo]), or OIHWBo ([O/B, I, k·k, Bo]) for an unblocked x; the output
 * reordered back to its own channel count.
 */
export function emitConv(e: Emitter, x: string, w: string, bias: string | undefined, out: string, pad: number, wShape: readonly Dim[]): void {
  const attrs = [attrInts('pads', [pad, pad, pad, pad]), attrInts('strides', [1, 1])];
  const b = e.nchwcBlock;
  if (!b) {
    e.emit('Conv', bias ? [x, w, bias] : [x, w], out, attrs);
    return;
  }
  const [o, i, k] = wShape as number[];
  const up = (n: number) => Math.ceil(n / b) * b;
  const blockedInput = i >= b;
  const [op, ip] = [up(o), blockedInput ? up(i) : i];
  const padded = op > o || ip > i ? e.tmp('Pad', [w, e.int64([0, 0, 0, 0, op - o, ip - i, 0, 0])]) : w;
  const filter = blockedInput
    ? e.tmp('Transpose', [e.tmp('Reshape', [padded, e.int64([op / b, b, ip / b, b, k * k])])], [attrInts('perm', [0, 2, 4, 3, 1])])
    : e.tmp('Transpose', [e.tmp('Reshape', [padded, e.int64([op / b, b, ip, k * k])])], [attrInts('perm', [0, 2, 3, 1])]);
  const inputs = [blockedInput ? e.tmp('ReorderInput', [ip > i ? e.tmp('Pad', [x, e.int64([0, 0, 0, 0, 0, ip - i, 0, 0])]) : x], [], NCHWC) : x];
  inputs.push(e.tmp('Reshape', [filter, e.int64([op, ip, k, k])]));
  if (bias) inputs.push(op > o ? e.tmp('Pad', [bias, e.int64([0, op - o])]) : bias);
  const yb = e.tmp('Conv', inputs, [...attrs, attrInts('kernel_shape', [k, k])], NCHWC);
  e.emit('ReorderOutput', [yb], out, [attrInt('channels', o)], NCHWC);
}

/**
 * A one-node model that reorders a [1, 4, 1, 1] input to NCHWc: its output's channel count is
 * MLAS's block size, and a session fails to load it where ONNX Runtime has no blocked kernels.
 */
export function nchwcProbeModel(): Uint8Array {
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [
        { domain: '', version: ONNX_OPSET },
        { domain: NCHWC, version: 1 },
      ],
      graph: {
        name: 'nchwc-probe',
        node: [{ opType: 'ReorderInput', domain: NCHWC, input: ['x'], output: ['y'], name: 'reorder' }],
        input: [valueInfo('x', [1, 4, 1, 1])],
        output: [{ name: 'y', type: { tensorType: { elemType: FLOAT } } }],
      },
    }),
  ).finish();
}
