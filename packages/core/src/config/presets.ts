/**
 * Network sizes for `--size`:
 * - `tiny`: trains on a 2-core CPU (≤ 0.3 GFLOP per image);
 * - `small`: a few GFLOP, attention at 16×16;
 * - `paper`: the size class of the authors' EDM DDPM++ backbone (~50 M parameters, 39 GFLOP), for GPUs.
 *
 * @example
 * const net = unetPreset('tiny', { numClasses: 10 });
 */
import { CnnConfig, UNetConfig } from './schema.js';

export type SizeName = 'tiny' | 'small' | 'paper';

const UNET_SIZES: Record<SizeName, Partial<UNetConfig>> = {
  tiny: { modelChannels: 24, channelMult: [1, 2, 2], numBlocks: 1, attnResolutions: [], dropout: 0 },
  small: { modelChannels: 64, channelMult: [1, 2, 2], numBlocks: 2, attnResolutions: [16], dropout: 0.1 },
  paper: { modelChannels: 128, channelMult: [2, 2, 2], numBlocks: 4, attnResolutions: [16], dropout: 0.13 },
};

const CNN_SIZES: Record<SizeName, Partial<CnnConfig>> = {
  tiny: { widths: [32, 64, 128] },
  small: { widths: [64, 128, 256] },
  paper: { widths: [128, 256, 512] },
};

export function unetPreset(size: SizeName, overrides: Partial<UNetConfig> = {}): UNetConfig {
  return UNetConfig.parse({ arch: 'unet', ...UNET_SIZES[size], ...overrides });
}

export function cnnPreset(size: SizeName, overrides: Partial<CnnConfig> = {}): CnnConfig {
  return CnnConfig.parse({ arch: 'cnn', ...CNN_SIZES[size], ...overrides });
}

/**
 * The authors' full-size CIFAR-10 networks (huanranchen/DiffusionClassifier `get_edm_nets.py`:
 * NVIDIA's EDM DDPM++ with 128 channels, multipliers 2-2-2, 4 blocks, attention at 16², augment_dim 9):
 * `cond` (label input, EDM's class-conditional network, 55.7 M parameters), `uncond`, or the
 * multi-head network of the same size (`multihead`, K + 1 output heads).
 *
 * @example
 * const net = paperNetwork('cond'); // 21.2 G MACs per pass
 */
export function paperNetwork(kind: 'cond' | 'uncond' | 'multihead'): UNetConfig {
  return UNetConfig.parse({
    arch: 'unet',
    conditioning: kind === 'cond' ? 'label' : kind === 'uncond' ? 'none' : 'multihead',
    modelChannels: 128,
    channelMult: [2, 2, 2],
    numBlocks: 4,
    attnResolutions: [16],
    augmentDim: kind === 'multihead' ? 0 : 9,
  });
}
