/**
 * EDM's SongUNet (NVIDIA's `training/networks.py`, DDPM++ configuration) as a graph, with EDM's
 * parameter names (`enc.32x32_conv`, `enc.16x16_down.conv0`, `dec.8x8_in0.qkv`, `map_label`, …), so
 * a state dict of EDM's maps one to one (without its `model.` prefix).
 *
 * Mapping: the positional embedding of c_noise (endpoint, sin first), plus `map_label(onehot·√K)`
 * for a label-conditional network, then two SiLU linears. UNet blocks: GroupNorm, SiLU, 3×3 conv
 * (resampling first in a down/up block), the embedding added, GroupNorm, SiLU, dropout, 3×3 conv, a
 * 1×1 skip convolution where the channels change or resampling happens, both summed and scaled by
 * √0.5; attention (one head, q/k/v interleaved as EDM stores them) likewise. The resample filter
 * [1, 1] is 2×2 averaging down and nearest-neighbour up. Encoder: per level a down block (not on the
 * first), then `numBlocks` blocks; decoder: two middle blocks (the first with attention) at the
 * lowest resolution, else an up block, then `numBlocks + 1` blocks on the concatenated skips
 * (attention on the last one at an attention resolution); output GroupNorm, SiLU and a 3×3 conv.
 *
 * The same builder describes the multi-head network (`conditioning: 'multihead'`, (K + 1)·C output
 * channels) and, through layout options, the networks this project trained before it used EDM's
 * layout (pooling between levels, one middle block, attention on every decoder block, GroupNorm
 * ε 1e-5, cos first). Initialisation follows EDM: Xavier-uniform weights, zero biases, √0.2 on
 * qkv, 1e-5 on the last convolution of every branch and of the output.
 *
 * @example
 * const graph = buildDenoiserGraph(UNetConfig.parse({ arch: 'unet', modelChannels: 16 }));
 * // inputs x [N, 3, 32, 32], sigma [N] → output D [N, 11, 3, 32, 32]
 */
import type { UNetConfig } from '../config/schema.js';
import type { GraphBuilder, Init, V } from './graph/index.js';
import { edmPrecond } from './precond-graph.js';

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

/** Output heads of a network: K class heads and the unconditional one, or one (EDM's networks). */
export function headCount(cfg: UNetConfig): number {
  return cfg.conditioning === 'multihead' ? cfg.numClasses + 1 : 1;
}

class Layers {
  constructor(
    readonly g: GraphBuilder,
    readonly eps: number,
  ) {}

  conv(name: string, x: V, cout: number, k: number, gain = 1): V {
    const cin = x.shape[1] as number;
    const w = this.g.param(`${name}.weight`, [cout, cin, k, k], xavier(cin * k * k, cout * k * k, gain));
    const b = this.g.param(`${name}.bias`, [cout], { kind: 'zeros' });
    return this.g.conv2d(x, w, b);
  }

  linear(name: string, x: V, out: number, bias = true): V {
    const inp = x.shape[1] as number;
    const w = this.g.param(`${name}.weight`, [out, inp], xavier(inp, out));
    const b = bias ? this.g.param(`${name}.bias`, [out], { kind: 'zeros' }) : undefined;
    return this.g.linear(x, w, b);
  }

  norm(name: string, x: V): V {
    const c = x.shape[1] as number;
    const gamma = this.g.param(`${name}.weight`, [c], { kind: 'ones' });
    const beta = this.g.param(`${name}.bias`, [c], { kind: 'zeros' });
    return this.g.groupnorm(x, gamma, beta, groupsFor(c), this.eps);
  }
}

/** EDM's PositionalEmbedding(endpoint=True) of c_noise: f_i = (1/10000)^(i/(C/2 − 1)), then [sin, cos] (or [cos, sin]). */
function positionalEmbedding(g: GraphBuilder, cNoise: V, channels: number, order: UNetConfig['embeddingOrder']): V {
  const half = channels / 2;
  const freqs = Array.from({ length: half }, (_, i) => Math.pow(1 / 10000, i / Math.max(1, half - 1)));
  const x = g.mul(g.reshape(cNoise, [-1, 1]), g.constant(freqs, [1, half]));
  return order === 'sin-cos' ? g.concat([g.sin(x), g.cos(x)], 1) : g.concat([g.cos(x), g.sin(x)], 1);
}

interface BlockOptions {
  attention: boolean;
  up?: boolean;
  down?: boolean;
}

/** 2×2 resampling with EDM's [1, 1] filter: average down, nearest up. */
function resample(g: GraphBuilder, x: V, o: BlockOptions): V {
  if (o.down) return g.avgpool2(x);
  if (o.up) return g.upsample2(x);
  return x;
}

function unetBlock(L: Layers, name: string, x: V, emb: V, cout: number, o: BlockOptions, cfg: UNetConfig, training: boolean): V {
  const g = L.g;
  const cin = x.shape[1] as number;
  let h = L.conv(`${name}.conv0`, resample(g, g.silu(L.norm(`${name}.norm0`, x)), o), cout, 3);
  h = g.add(h, g.reshape(L.linear(`${name}.affine`, emb, cout), [0, -1, 1, 1]));
  h = g.silu(L.norm(`${name}.norm1`, h));
  if (training) h = g.dropout(h, cfg.dropout);
  h = L.conv(`${name}.conv1`, h, cout, 3, 1e-5);
  const skip = cin === cout && !o.up && !o.down ? x : L.conv(`${name}.skip`, resample(g, x, o), cout, 1);
  h = g.mul(g.add(h, skip), SKIP_SCALE);
  if (!o.attention) return h;

  const [, c, hh, ww] = h.shape as number[];
  const heads = cfg.attentionHeads || Math.max(1, Math.floor(c / cfg.channelsPerHead));
  const d = c / heads;
  const qkv = L.conv(`${name}.qkv`, L.norm(`${name}.norm2`, h), 3 * c, 1, Math.sqrt(0.2));
  // [N, 3c, H, W] → [N, heads, d, 3, HW] as in EDM (q, k, v interleaved per channel), then split.
  const split = g.reshape(qkv, [0, heads, d, 3, hh * ww]);
  const part = (i: number) => g.reshape(g.slice(split, 3, i, i + 1), [0, heads, d, hh * ww]);
  const [q, k, v] = [part(0), part(1), part(2)];
  // w[n, h, i, j] = softmax_j(q[:, i] · k[:, j] / √d); a[n, h, c, i] = Σ_j v[c, j] w[i, j]
  const w = g.softmax(g.mul(g.matmul(q, k, true, false), 1 / Math.sqrt(d)), -1);
  const a = g.matmul(v, w, false, true);
  const proj = L.conv(`${name}.proj`, g.reshape(a, [0, c, hh, ww]), c, 1, 1e-5);
  return g.mul(g.add(proj, h), SKIP_SCALE);
}

/** The raw SongUNet F(c_in·x; c_noise, labels) → [N, heads·C, H, W]. */
function songUNet(g: GraphBuilder, cfg: UNetConfig, xIn: V, cNoise: V, labels: V | undefined, training: boolean): V {
  const L = new Layers(g, cfg.normEps);
  const { channels, height } = cfg.image;
  const c0 = cfg.modelChannels;
  const embCh = c0 * cfg.embMult;

  // Mapping.
  let emb = positionalEmbedding(g, cNoise, c0, cfg.embeddingOrder);
  if (cfg.conditioning === 'label') {
    if (!labels) throw new Error('unet: a label-conditional network needs the one-hot labels input');
    emb = g.add(emb, L.linear('map_label', g.mul(labels, Math.sqrt(cfg.numClasses)), c0));
  }
  // EDM's augmentation-label mapping: part of the state dict, idle at inference.
  if (cfg.augmentDim > 0) g.param('map_augment.weight', [c0, cfg.augmentDim], xavier(cfg.augmentDim, c0));
  emb = g.silu(L.linear('map_layer0', emb, embCh));
  emb = g.silu(L.linear('map_layer1', emb, embCh));

  // Encoder.
  const skips: V[] = [];
  const at = (res: number) => `${res}x${res}`;
  let x = L.conv(`enc.${at(height)}_conv`, xIn, c0, 3);
  skips.push(x);
  cfg.channelMult.forEach((mult, level) => {
    const res = height >> level;
    if (level > 0) {
      x =
        cfg.resample === 'block'
          ? unetBlock(L, `enc.${at(res)}_down`, x, emb, x.shape[1] as number, { attention: false, down: true }, cfg, training)
          : g.avgpool2(x);
      skips.push(x);
    }
    for (let b = 0; b < cfg.numBlocks; b++) {
      x = unetBlock(L, `enc.${at(res)}_block${b}`, x, emb, c0 * mult, { attention: cfg.attnResolutions.includes(res) }, cfg, training);
      skips.push(x);
    }
  });

  // Decoder.
  const last = cfg.channelMult.length - 1;
  for (let level = last; level >= 0; level--) {
    const res = height >> level;
    const attn = cfg.attnResolutions.includes(res);
    const c = x.shape[1] as number;
    if (level === last) {
      x = unetBlock(L, `dec.${at(res)}_in0`, x, emb, c, { attention: cfg.middleBlocks === 2 || attn }, cfg, training);
      if (cfg.middleBlocks === 2) x = unetBlock(L, `dec.${at(res)}_in1`, x, emb, c, { attention: false }, cfg, training);
    } else {
      x = cfg.resample === 'block' ? unetBlock(L, `dec.${at(res)}_up`, x, emb, c, { attention: false, up: true }, cfg, training) : g.upsample2(x);
    }
    for (let b = 0; b <= cfg.numBlocks; b++) {
      const skip = skips.pop();
      if (!skip) throw new Error('unet: skip connections out of balance');
      const attention = attn && (cfg.decoderAttention === 'all' || b === cfg.numBlocks);
      x = unetBlock(L, `dec.${at(res)}_block${b}`, g.concat([x, skip], 1), emb, c0 * cfg.channelMult[level], { attention }, cfg, training);
    }
  }
  const features = g.silu(L.norm(`dec.${at(height)}_aux_norm`, x));
  const out = L.conv(`dec.${at(height)}_aux_conv`, features, headCount(cfg) * channels, 3, 1e-5);
  return cfg.headChannels > 0 && cfg.conditioning === 'multihead' ? g.add(out, headBranches(L, `dec.${at(height)}`, features, cfg)) : out;
}

/**
 * Each head's own hidden layer (multi-head network, `headChannels` > 0): a 3×3 convolution of the
 * shared features to `headChannels` channels per head, SiLU, and the head's own 1×1 read-out (one
 * batched product over the heads), added to the shared output convolution. The read-out starts near
 * zero (EDM's 1e-5 gain on a branch's last layer), so at initialisation the network is the plain one.
 */
function headBranches(L: Layers, prefix: string, features: V, cfg: UNetConfig): V {
  const g = L.g;
  const heads = headCount(cfg);
  const hc = cfg.headChannels;
  const { channels: c, height: h, width: w } = cfg.image;
  const hidden = g.silu(L.conv(`${prefix}_head_conv`, features, heads * hc, 3)); // [N, heads·hc, H, W]
  const weight = g.param(`${prefix}_head_out.weight`, [1, heads, c, hc], xavier(hc, c, 1e-5));
  const bias = g.param(`${prefix}_head_out.bias`, [1, heads, c, 1], { kind: 'zeros' });
  const y = g.add(g.matmul(weight, g.reshape(hidden, [0, heads, hc, h * w])), bias); // [N, heads, C, HW]
  return g.reshape(y, [0, heads * c, h, w]);
}

/** Checks a UNet config against its image size. */
function validateUNet(cfg: UNetConfig): void {
  const levels = cfg.channelMult.length;
  const div = 2 ** (levels - 1);
  if (cfg.image.height % div || cfg.image.width % div) {
    throw new Error(`unet: ${cfg.image.height}×${cfg.image.width} images cannot be halved ${levels - 1} times`);
  }
  if (cfg.image.height !== cfg.image.width) throw new Error('unet: square images only (EDM names levels by their resolution)');
  if (cfg.modelChannels % 2) throw new Error('unet: modelChannels must be even (positional embedding)');
}

/**
 * Adds the UNet denoiser to an existing builder (for composite graphs: DC, LM, losses): x [N, C, H, W]
 * and σ [N] (and one-hot labels [N, K] for a label-conditional network) → D [N, heads, C, H, W].
 */
export function addUNetDenoiser(g: GraphBuilder, cfg: UNetConfig, x: V, sigma: V, training = false, labels?: V): V {
  validateUNet(cfg);
  return edmPrecond(g, x, sigma, headCount(cfg), (gb, xs, cn) => songUNet(gb, cfg, xs, cn, labels, training));
}
