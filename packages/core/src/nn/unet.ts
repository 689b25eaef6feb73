import type { UNetConfig } from '../config/schema.js';
import type { GraphBuilder, Init, V } from './graph.js';
import { edmPrecond } from './precond.js';

/**
 * The multi-head diffusion UNet (EDM's DDPM++ layout, "SongUNet") as a graph.
 *
 * Residual blocks with GroupNorm and SiLU, a noise-level embedding added inside every block,
 * self-attention at the configured resolutions, 2×2 average pooling down and nearest-neighbour
 * upsampling (EDM's resample filter [1, 1]), skip connections concatenated in the decoder, and a last
 * convolution emitting (K + 1)·C channels: K class heads and one unconditional head.
 * Initialisation follows EDM: Xavier-uniform weights, zero biases, and near-zero (×1e-5) weights on
 * the last convolution of every residual branch and of the output.
 *
 * @example
 * const graph = buildDenoiserGraph(UNetConfig.parse({ arch: 'unet', modelChannels: 16 }));
 * // inputs x [N, 3, 32, 32], sigma [N] → output D [N, 11, 3, 32, 32]
 */

const SKIP_SCALE = Math.SQRT1_2;

function xavier(fanIn: number, fanOut: number, gain = 1): Init {
  return { kind: 'uniform', bound: gain * Math.sqrt(6 / (fanIn + fanOut)) };
}

/** GroupNorm group count as EDM chooses it: min(32, C / 4). */
export function groupsFor(channels: number): number {
  let g = Math.min(32, Math.max(1, Math.floor(channels / 4)));
  while (channels % g) g--;
  return g;
}

class Layers {
  constructor(readonly g: GraphBuilder) {}

  conv(name: string, x: V, cout: number, k: number, gain = 1): V {
    const cin = x.shape[1] as number;
    const w = this.g.param(`${name}.weight`, [cout, cin, k, k], xavier(cin * k * k, cout * k * k, gain));
    const b = this.g.param(`${name}.bias`, [cout], { kind: 'zeros' });
    return this.g.conv2d(x, w, b);
  }

  linear(name: string, x: V, out: number, gain = 1): V {
    const inp = x.shape[1] as number;
    const w = this.g.param(`${name}.weight`, [out, inp], xavier(inp, out, gain));
    const b = this.g.param(`${name}.bias`, [out], { kind: 'zeros' });
    return this.g.linear(x, w, b);
  }

  norm(name: string, x: V): V {
    const c = x.shape[1] as number;
    const gamma = this.g.param(`${name}.weight`, [c], { kind: 'ones' });
    const beta = this.g.param(`${name}.bias`, [c], { kind: 'zeros' });
    return this.g.groupnorm(x, gamma, beta, groupsFor(c));
  }
}

/** EDM's positional embedding of c_noise: [cos(x·f), sin(x·f)] with f = (1/10000)^(i/(C/2 − 1)). */
function positionalEmbedding(g: GraphBuilder, cNoise: V, channels: number): V {
  const half = channels / 2;
  const freqs = Array.from({ length: half }, (_, i) => Math.pow(1 / 10000, i / Math.max(1, half - 1)));
  const f = g.constant(freqs, [1, half]);
  const x = g.mul(g.reshape(cNoise, [-1, 1]), f);
  return g.concat([g.cos(x), g.sin(x)], 1);
}

function unetBlock(L: Layers, name: string, x: V, emb: V, cout: number, attention: boolean, cfg: UNetConfig, training: boolean): V {
  const g = L.g;
  const cin = x.shape[1] as number;
  let h = L.conv(`${name}.conv0`, g.silu(L.norm(`${name}.norm0`, x)), cout, 3);
  const params = L.linear(`${name}.affine`, emb, cout);
  h = g.add(h, g.reshape(params, [0, -1, 1, 1]));
  h = g.silu(L.norm(`${name}.norm1`, h));
  if (training) h = g.dropout(h, cfg.dropout);
  h = L.conv(`${name}.conv1`, h, cout, 3, 1e-5);
  const skip = cin === cout ? x : L.conv(`${name}.skip`, x, cout, 1);
  h = g.mul(g.add(h, skip), SKIP_SCALE);
  if (!attention) return h;

  const [, c, hh, ww] = h.shape as number[];
  const heads = Math.max(1, Math.floor(c / cfg.channelsPerHead));
  const d = c / heads;
  const qkv = L.conv(`${name}.qkv`, L.norm(`${name}.norm2`, h), 3 * c, 1);
  // [N, 3c, H, W] → [N, heads, d, 3, HW] as in EDM, then split q, k, v.
  const split = g.reshape(qkv, [0, heads, d, 3, hh * ww]);
  const part = (i: number) => g.reshape(g.slice(split, 3, i, i + 1), [0, heads, d, hh * ww]);
  const [q, k, v] = [part(0), part(1), part(2)];
  // w[n, h, i, j] = softmax_j(q[:, i] · k[:, j] / √d)
  const logits = g.mul(g.matmul(q, k, true, false), 1 / Math.sqrt(d));
  const w = g.softmax(logits, -1);
  // a[n, h, c, i] = Σ_j v[c, j] w[i, j]
  const a = g.matmul(v, w, false, true);
  const proj = L.conv(`${name}.proj`, g.reshape(a, [0, c, hh, ww]), c, 1, 1e-5);
  return g.mul(g.add(h, proj), SKIP_SCALE);
}

/** The raw UNet F(c_in·x; c_noise) → [N, (K+1)·C, H, W]. */
function unetBody(g: GraphBuilder, cfg: UNetConfig, xIn: V, cNoise: V, training: boolean): V {
  const L = new Layers(g);
  const { channels, height } = cfg.image;
  const c0 = cfg.modelChannels;
  const embCh = c0 * cfg.embMult;
  let emb = positionalEmbedding(g, cNoise, c0);
  emb = g.silu(L.linear('map_layer0', emb, embCh));
  emb = g.silu(L.linear('map_layer1', emb, embCh));

  const skips: V[] = [];
  let x = L.conv('enc.conv_in', xIn, c0, 3);
  skips.push(x);
  let res = height;
  cfg.channelMult.forEach((mult, level) => {
    if (level > 0) {
      x = g.avgpool2(x);
      res /= 2;
      skips.push(x);
    }
    for (let b = 0; b < cfg.numBlocks; b++) {
      x = unetBlock(L, `enc.${res}.block${b}`, x, emb, c0 * mult, cfg.attnResolutions.includes(res), cfg, training);
      skips.push(x);
    }
  });

  const last = cfg.channelMult.length - 1;
  for (let level = last; level >= 0; level--) {
    const cout = c0 * cfg.channelMult[level];
    if (level === last) {
      x = unetBlock(L, `dec.${res}.mid`, x, emb, cout, cfg.attnResolutions.includes(res), cfg, training);
    } else {
      x = g.upsample2(x);
      res *= 2;
    }
    for (let b = 0; b <= cfg.numBlocks; b++) {
      const skip = skips.pop();
      if (!skip) throw new Error('unet: skip connections out of balance');
      x = g.concat([x, skip], 1);
      x = unetBlock(L, `dec.${res}.block${b}`, x, emb, cout, cfg.attnResolutions.includes(res), cfg, training);
    }
  }
  const out = L.conv('out.conv', g.silu(L.norm('out.norm', x)), (cfg.numClasses + 1) * channels, 3, 1e-5);
  return out;
}

/** Checks a UNet config against its image size. */
export function validateUNet(cfg: UNetConfig): void {
  const levels = cfg.channelMult.length;
  const div = 2 ** (levels - 1);
  if (cfg.image.height % div || cfg.image.width % div) {
    throw new Error(`unet: ${cfg.image.height}×${cfg.image.width} images cannot be halved ${levels - 1} times`);
  }
  if (cfg.modelChannels % 2) throw new Error('unet: modelChannels must be even (positional embedding)');
}

/** Adds the UNet denoiser to an existing builder (for composite graphs: DC, LM, losses). */
export function addUNetDenoiser(g: GraphBuilder, cfg: UNetConfig, x: V, sigma: V, training = false): V {
  validateUNet(cfg);
  return edmPrecond(g, x, sigma, cfg.numClasses + 1, (gb, xs, cn) => unetBody(gb, cfg, xs, cn, training));
}
