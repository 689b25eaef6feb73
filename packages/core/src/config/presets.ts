import { CnnConfig, UNetConfig } from './schema.js';

/**
 * Network sizes for `--size`:
 * - `tiny`: trains on a 2-core CPU (≤ 0.3 GFLOP per image);
 * - `small`: a few GFLOP, attention at 16×16;
 * - `paper`: the size class of the authors' EDM DDPM++ backbone (~50 M parameters, 39 GFLOP), for GPUs.
 *
 * @example
 * const net = unetPreset('tiny', { numClasses: 10 });
 */
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
