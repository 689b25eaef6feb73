/**
 * Networks trained by this project before it used EDM's layout: their config.json predates the
 * layout options (no `resample` field) and their weights have the old names. `legacyNetwork` and
 * `legacyWeights` give the same network in the one builder's terms (pooling between levels, one middle block,
 * attention on every decoder block of an attention resolution, GroupNorm ε 1e-5, cos first, heads
 * of `channelsPerHead` channels) with EDM's parameter names; the weights' values are unchanged.
 *
 * @example
 * if (isLegacyUNet(raw.network)) raw.network = legacyNetwork(raw.network); // rdc reseal
 */
import type { Weights } from '../tensor.js';

export function isLegacyUNet(network: unknown): boolean {
  return !!network && typeof network === 'object' && (network as { arch?: unknown }).arch === 'unet' && !('resample' in network);
}

const LEGACY_LAYOUT = {
  conditioning: 'multihead',
  resample: 'pool',
  middleBlocks: 1,
  decoderAttention: 'all',
  normEps: 1e-5,
  embeddingOrder: 'cos-sin',
  attentionHeads: 0,
  augmentDim: 0,
} as const;

/** The old parameter name → EDM's, for a network on res×res images. */
function legacyParamName(name: string, res: number): string {
  const at = (r: number | string) => `${r}x${r}`;
  return name
    .replace(/^enc\.conv_in\./, `enc.${at(res)}_conv.`)
    .replace(/^(enc|dec)\.(\d+)\.block(\d+)\./, (_, part, r, b) => `${part}.${at(r)}_block${b}.`)
    .replace(/^dec\.(\d+)\.mid\./, (_, r) => `dec.${at(r)}_in0.`)
    .replace(/^out\.norm\./, `dec.${at(res)}_aux_norm.`)
    .replace(/^out\.conv\./, `dec.${at(res)}_aux_conv.`);
}

/** A legacy network's config.json entry with the layout options that reproduce it. */
export function legacyNetwork(network: object): Record<string, unknown> {
  return { ...network, ...LEGACY_LAYOUT };
}

/** A legacy network's weights under EDM's names (res: its image height); the values as they are. */
export function legacyWeights(weights: Weights, res: number): Weights {
  return Object.fromEntries(Object.entries(weights).map(([k, w]) => [legacyParamName(k, res), w]));
}
