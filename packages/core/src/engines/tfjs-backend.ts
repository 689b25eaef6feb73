/**
 * Run-time choice of the TensorFlow.js backend, best first:
 * `@tensorflow/tfjs-node-gpu` (CUDA) → `@tensorflow/tfjs-node` (native CPU) → `tfjs-backend-wasm`
 * (with the convolution gradient kernels it lacks registered) → `tfjs-backend-cpu` (pure JS, slow).
 * The two native packages are optional and never required to install: they are imported only if
 * present. `RDC_ENGINE=tfjs-wasm` (or `--engine tfjs-wasm`) forces one.
 *
 * @example
 * const { backend } = await initTfjs('auto'); // 'wasm' on a machine without tfjs-node
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerConvGradientKernels } from './tfjs-kernels.js';

export type TfjsBackendChoice = 'auto' | 'node-gpu' | 'node' | 'wasm' | 'cpu';

export interface TfjsBackendInfo {
  backend: string;
  package: string;
  threads: number;
}

const NATIVE: Record<'node-gpu' | 'node', string> = {
  'node-gpu': '@tensorflow/tfjs-node-gpu',
  node: '@tensorflow/tfjs-node',
};

let current: TfjsBackendInfo | null = null;
let gradientsRegistered = false;

/**
 * tfjs-core's CommonJS build registers no gradient functions; the union package registers all of
 * them in tfjs's global registry (shared by every copy of the same version).
 */
async function registerGradients(): Promise<void> {
  if (gradientsRegistered) return;
  await import('@tensorflow/tfjs');
  gradientsRegistered = true;
}
let currentChoice: TfjsBackendChoice | null = null;

async function tryNative(which: 'node-gpu' | 'node'): Promise<TfjsBackendInfo | null> {
  const pkg = NATIVE[which];
  try {
    await import(pkg);
  } catch {
    return null;
  }
  if (!(await tf.setBackend('tensorflow'))) return null;
  return { backend: 'tensorflow', package: pkg, threads: 0 };
}

async function useWasm(): Promise<TfjsBackendInfo> {
  await import('@tensorflow/tfjs-backend-wasm');
  registerConvGradientKernels('wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: the wasm backend failed to initialise');
  // Threads are hard-wired off for wasm in Node.
  return { backend: 'wasm', package: '@tensorflow/tfjs-backend-wasm', threads: 1 };
}

async function useCpu(): Promise<TfjsBackendInfo> {
  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('cpu'))) throw new Error('tfjs: the cpu backend failed to initialise');
  // The cpu backend prints an advertisement for tfjs-node on first use; `rdc info` says it instead.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return { backend: 'cpu', package: '@tensorflow/tfjs-backend-cpu', threads: 1 };
}

/** Initialises (once) and returns the chosen backend. Forcing a missing native package is an error. */
export async function initTfjs(choice: TfjsBackendChoice = 'auto'): Promise<TfjsBackendInfo> {
  if (current && (choice === 'auto' || choice === currentChoice)) {
    if (tf.getBackend() !== current.backend) await tf.setBackend(current.backend);
    return current;
  }
  await registerGradients();
  let info: TfjsBackendInfo | null = null;
  if (choice === 'node-gpu' || choice === 'node') {
    info = await tryNative(choice);
    if (!info)
      throw new Error(
        `${NATIVE[choice]} is not installed (or failed to load); install it with 'pnpm --filter @rdc/core add ${NATIVE[choice]}' or pick another engine`,
      );
  } else if (choice === 'auto') {
    info = (await tryNative('node-gpu')) ?? (await tryNative('node')) ?? (await useWasm());
  } else if (choice === 'wasm') {
    info = await useWasm();
  } else {
    info = await useCpu();
  }
  current = info;
  currentChoice = choice;
  return info;
}
