/**
 * Convolution gradient kernels for the tfjs wasm backend, built on its fast forward convolution.
 *
 * The wasm backend has no `Conv2DBackpropFilter` (training a conv net fails with "Kernel not
 * registered") and its `Conv2DBackpropInput` runs ~10× slower than the forward convolution. For
 * stride 1 and dilation 1 (all this project's networks use) both are forward convolutions:
 *   dx = conv(dy, flip_hw(W) with in/out swapped, padding k − 1 − p)
 *   dW = conv(xᵀ [Cin, H, W, N], dyᵀ [Hy, Wy, N, Cout], padding p), transposed back to HWIO.
 */
import * as tf from '@tensorflow/tfjs-core';

type Info = tf.TensorInfo;
type KernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }) => Info | Info[];

function kernel(name: string, backendName: string): KernelFunc {
  const k = tf.getKernel(name, backendName);
  if (!k) throw new Error(`tfjs: the ${backendName} backend has no '${name}' kernel`);
  return k.kernelFunc as unknown as KernelFunc;
}

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
  dataFormat: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function padsOf(xShape: [number, number, number, number], filterShape: [number, number, number, number], attrs: ConvAttrs) {
  const strides = typeof attrs.strides === 'number' ? [attrs.strides, attrs.strides] : attrs.strides;
  const dil = attrs.dilations === undefined ? [1, 1] : typeof attrs.dilations === 'number' ? [attrs.dilations, attrs.dilations] : attrs.dilations;
  if (strides[0] !== 1 || strides[1] !== 1 || dil[0] !== 1 || dil[1] !== 1) {
    throw new Error('tfjs wasm: convolution gradients are registered for stride 1 and dilation 1 only');
  }
  if (attrs.dataFormat !== 'NHWC') throw new Error('tfjs wasm: convolution gradients need NHWC');
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, 1, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  return info.padInfo;
}

/** Registers the two kernels on `backendName` (idempotent). */
export function registerConvGradientKernels(backendName = 'wasm'): void {
  const conv = () => kernel('Conv2D', backendName);
  const transpose = () => kernel('Transpose', backendName);
  const reverse = () => kernel('Reverse', backendName);

  const run = (backend: tf.KernelBackend, x: Info, filter: Info, pad: { top: number; bottom: number; left: number; right: number }): Info =>
    conv()({
      inputs: { x, filter },
      backend,
      attrs: {
        strides: [1, 1],
        pad: [
          [0, 0],
          [pad.top, pad.bottom],
          [pad.left, pad.right],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        dilations: [1, 1],
      } as unknown as tf.NamedAttrMap,
    }) as Info;
  const tr = (backend: tf.KernelBackend, x: Info, perm: number[]): Info => transpose()({ inputs: { x }, backend, attrs: { perm } }) as Info;
  const free = (backend: tf.KernelBackend, ...infos: Info[]) => infos.forEach((i) => backend.disposeData(i.dataId));

  const replace = (kernelName: string, kernelFunc: (backend: tf.KernelBackend, inputs: tf.NamedTensorInfoMap, attrs: unknown) => Info) => {
    if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel({ kernelName, backendName, kernelFunc: ({ inputs, backend, attrs }) => kernelFunc(backend as tf.KernelBackend, inputs, attrs) });
  };

  replace('Conv2DBackpropFilter', (backend, inputs, attrs) => {
    const { x, dy } = inputs as { x: Info; dy: Info };
    const a = attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
    const p = padsOf(x.shape as [number, number, number, number], a.filterShape, a);
    const xt = tr(backend, x, [3, 1, 2, 0]);
    const dyt = tr(backend, dy, [1, 2, 0, 3]);
    const out = run(backend, xt, dyt, p);
    const result = tr(backend, out, [1, 2, 0, 3]);
    free(backend, xt, dyt, out);
    return result;
  });

  replace('Conv2DBackpropInput', (backend, inputs, attrs) => {
    const { dy, filter } = inputs as { dy: Info; filter: Info };
    const a = attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
    const [kh, kw] = filter.shape;
    const p = padsOf(a.inputShape, filter.shape as [number, number, number, number], a);
    const flipped = reverse()({ inputs: { x: filter }, backend, attrs: { dims: [0, 1] } }) as Info;
    const swapped = tr(backend, flipped, [0, 1, 3, 2]);
    const result = run(backend, dy, swapped, { top: kh - 1 - p.top, bottom: kh - 1 - p.bottom, left: kw - 1 - p.left, right: kw - 1 - p.right });
    free(backend, flipped, swapped);
    return result;
  });
}
