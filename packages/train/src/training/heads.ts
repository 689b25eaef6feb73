/**
 * Starting weights for fine-tuning `network` from a model with possibly another number of class
 * heads: every parameter whose shape matches is copied; the last convolution keeps the heads both
 * models have (class heads 0..min(K, K')−1 and the unconditional head) and initialises the rest.
 *
 * @example
 * const init = adaptWeights(source.weights, source.config.network, network, seed);
 */
import { initWeights, type NetworkConfig, type Weights } from '@rdc/core';
import { inferenceGraph } from './trainer.js';

export function adaptWeights(
  source: Weights,
  sourceNet: NetworkConfig,
  network: NetworkConfig,
  seed: number,
): { weights: Weights; copied: number; adapted: string[] } {
  if (sourceNet.arch !== network.arch) throw new Error(`cannot fine-tune a ${network.arch} from a ${sourceNet.arch}`);
  const fresh = initWeights(inferenceGraph(network), seed);
  const out: Weights = {};
  let copied = 0;
  const adapted: string[] = [];
  for (const [name, w] of Object.entries(fresh)) {
    const s = source[name];
    if (s && s.dims.length === w.dims.length && s.dims.every((d, i) => d === w.dims[i])) {
      out[name] = { data: Float32Array.from(s.data), dims: [...w.dims] };
      copied++;
    } else if (s && network.arch === 'unet' && network.conditioning === 'multihead' && /^dec\.\d+x\d+_aux_conv\.(weight|bias)$/.test(name)) {
      out[name] = remapHeads(s, w, sourceNet.numClasses, network.numClasses, network.image.channels);
      adapted.push(name);
    } else if (s) {
      throw new Error(`fine-tuning: '${name}' is [${s.dims.join(', ')}] in the source but [${w.dims.join(', ')}] here; only the head count may differ`);
    } else {
      out[name] = w;
      adapted.push(name);
    }
  }
  return { weights: out, copied, adapted };
}

function remapHeads(
  src: { data: Float32Array; dims: readonly number[] },
  fresh: { data: Float32Array; dims: readonly number[] },
  kSrc: number,
  k: number,
  c: number,
): { data: Float32Array; dims: number[] } {
  const data = Float32Array.from(fresh.data);
  const per = fresh.data.length / ((k + 1) * c); // values per output channel
  const copyHead = (from: number, to: number) => data.set(src.data.subarray(from * c * per, (from + 1) * c * per), to * c * per);
  for (let h = 0; h < Math.min(k, kSrc); h++) copyHead(h, h);
  copyHead(kSrc, k); // unconditional head
  return { data, dims: [...fresh.dims] };
}
