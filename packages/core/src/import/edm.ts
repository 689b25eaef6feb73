/**
 * NVIDIA's EDM networks (`EDMPrecond` around a `SongUNet`) from their files: a training snapshot
 * (`.pkl`, as NVIDIA publishes them), a `torch.save`d state dict (`.pt`, as the RDC authors load
 * them) or safetensors. The network's configuration comes from the snapshot's constructor
 * arguments or, for state dicts, from the keys and shapes; either way every key and shape is then
 * checked against the graph the one UNet builder makes (a missing, extra or misshapen key is
 * refused by name), and the fixed resample filters against EDM's [1, 1]. Weights are read one
 * tensor at a time.
 *
 * @example
 * const ck = readEdmCheckpoint('edm-cifar10-32x32-cond-vp.pkl');
 * const weights = loadEdmWeights(ck);
 */
import { createHash } from 'node:crypto';
import { UNetConfig } from '../config/schema.js';
import { InputError } from '../errors.js';
import { buildDenoiserGraph } from '../nn/denoiser-graph.js';
import { PickleError, type ByteSource } from './pickle.js';
import { openFileSource } from './source.js';
import { readEdmSnapshot, readTensor, readTorchZip, type TensorRef } from './torch.js';
import type { Weights } from '../tensor.js';

export interface EdmCheckpoint {
  path: string;
  format: 'pkl' | 'pt' | 'safetensors';
  sha256: string;
  network: UNetConfig;
  /** The graph's parameter names (EDM's without `model.`) → tensors. */
  tensors: Map<string, TensorRef>;
  /** EDM's constructor arguments, when the file records them (.pkl). */
  kwargs: Record<string, unknown> | null;
  close(): void;
}

function fileSha256(src: ByteSource): string {
  const h = createHash('sha256');
  for (let o = 0; o < src.length; o += 1 << 22) h.update(src.read(o, Math.min(1 << 22, src.length - o)));
  return h.digest('hex');
}

function detect(src: ByteSource): EdmCheckpoint['format'] {
  const head = src.read(0, Math.min(16, src.length));
  if (head[0] === 0x50 && head[1] === 0x4b) return 'pt';
  if (head[0] === 0x80) return 'pkl';
  if (src.length >= 9 && head[8] === 0x7b) return 'safetensors';
  throw new InputError(`${src.name}: not a PyTorch .pt (zip), an EDM .pkl snapshot or a safetensors file`, 'bad_checkpoint');
}

/** A state dict in safetensors: float32 tensors as references into the file. */
function safetensorsRefs(src: ByteSource): Map<string, TensorRef> {
  const n = Number(new DataView(src.read(0, 8).slice().buffer).getBigUint64(0, true));
  if (n <= 0 || 8 + n > src.length) throw new InputError(`${src.name}: not a safetensors file (header length ${n})`, 'bad_checkpoint');
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(Buffer.from(src.read(8, n)).toString('utf8'));
  } catch {
    throw new InputError(`${src.name}: the safetensors header is not valid JSON`, 'bad_checkpoint');
  }
  const out = new Map<string, TensorRef>();
  for (const [k, e] of Object.entries(header)) {
    if (k === '__metadata__') continue;
    if (e.dtype !== 'F32') throw new InputError(`${src.name}: tensor ${k} is ${e.dtype}; only F32 is supported`, 'bad_checkpoint');
    const numel = e.shape.reduce((a, b) => a * b, 1);
    const [a, b] = e.data_offsets;
    if (!(a >= 0 && b - a === 4 * numel && 8 + n + b <= src.length))
      throw new InputError(`${src.name}: tensor ${k}'s offsets do not match its shape or the file size (truncated?)`, 'bad_checkpoint');
    const stride = e.shape.map((_, i) => e.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    out.set(k, { storage: { source: src, byteOffset: 8 + n + e.data_offsets[0], numel, key: k }, offset: 0, shape: e.shape, stride });
  }
  return out;
}

const expect = (cond: unknown, what: string, msg: string): void => {
  if (!cond) throw new InputError(`${what}: ${msg}`, 'bad_checkpoint');
};

/** The network of EDM's constructor arguments (DDPM++ only: positional embedding, standard encoder and decoder, filter [1, 1]). */
export function edmConfigFromKwargs(kw: Record<string, unknown>, what: string): UNetConfig {
  expect(kw.model_type === undefined || kw.model_type === 'SongUNet', what, `model_type ${String(kw.model_type)} is not SongUNet`);
  expect(
    (kw.embedding_type ?? 'positional') === 'positional',
    what,
    `embedding_type '${String(kw.embedding_type)}' (NCSN++) is not supported: only DDPM++ (positional)`,
  );
  expect((kw.encoder_type ?? 'standard') === 'standard', what, `encoder_type '${String(kw.encoder_type)}' is not supported: only 'standard'`);
  expect((kw.decoder_type ?? 'standard') === 'standard', what, `decoder_type '${String(kw.decoder_type)}' is not supported: only 'standard'`);
  expect(JSON.stringify(kw.resample_filter ?? [1, 1]) === '[1,1]', what, `resample_filter ${JSON.stringify(kw.resample_filter)} is not supported: only [1, 1]`);
  expect((kw.channel_mult_noise ?? 1) === 1, what, 'channel_mult_noise ≠ 1 is not supported');
  const labelDim = Number(kw.label_dim ?? 0);
  const res = Number(kw.img_resolution);
  return UNetConfig.parse({
    arch: 'unet',
    image: { channels: Number(kw.img_channels ?? 3), height: res, width: res },
    numClasses: labelDim || 10,
    conditioning: labelDim ? 'label' : 'none',
    modelChannels: Number(kw.model_channels ?? 128),
    channelMult: (kw.channel_mult as number[]) ?? [1, 2, 2, 2],
    numBlocks: Number(kw.num_blocks ?? 4),
    attnResolutions: (kw.attn_resolutions as number[]) ?? [16],
    dropout: 0,
    embMult: Number(kw.channel_mult_emb ?? 4),
    augmentDim: Number(kw.augment_dim ?? 0),
  });
}

/** The network a SongUNet state dict describes (its keys without `model.`), from its names and shapes. */
export function edmConfigFromStateDict(sd: Map<string, TensorRef>, what: string, numClasses = 10): UNetConfig {
  const conv = [...sd.keys()].map((k) => /^enc\.(\d+)x\1_conv\.weight$/.exec(k)).find(Boolean);
  expect(conv, what, 'no enc.<res>x<res>_conv.weight: not an EDM SongUNet state dict');
  const res = Number(conv![1]);
  const c0 = sd.get(conv![0])!.shape[0];
  const blocks = new Map<number, number>();
  const attn = new Set<number>();
  const width = new Map<number, number>();
  for (const k of sd.keys()) {
    const m = /^enc\.(\d+)x\1_block(\d+)\.(\w+)\.weight$/.exec(k);
    if (!m) continue;
    const r = Number(m[1]);
    blocks.set(r, Math.max(blocks.get(r) ?? 0, Number(m[2]) + 1));
    if (m[3] === 'qkv') attn.add(r);
    if (m[3] === 'conv0' && m[2] === '0') width.set(r, sd.get(k)!.shape[0]);
  }
  expect(
    ![...sd.keys()].some((k) => /aux_residual|aux_skip|aux_down|aux_up/.test(k)),
    what,
    "the 'skip'/'residual' encoder or decoder (NCSN++) is not supported: only DDPM++",
  );
  const resolutions = [...blocks.keys()].sort((a, b) => b - a);
  expect(resolutions[0] === res, what, 'the encoder does not start at the input resolution');
  const label = sd.get('map_label.weight');
  const augment = sd.get('map_augment.weight');
  const layer0 = sd.get('map_layer0.weight');
  expect(layer0 && layer0.shape[1] === c0, what, 'map_layer0 does not take model_channels inputs (channel_mult_noise ≠ 1 is not supported)');
  return UNetConfig.parse({
    arch: 'unet',
    image: { channels: sd.get(conv![0])!.shape[1], height: res, width: res },
    numClasses: label ? label.shape[1] : numClasses,
    conditioning: label ? 'label' : 'none',
    modelChannels: c0,
    channelMult: resolutions.map((r) => width.get(r)! / c0),
    numBlocks: blocks.get(res)!,
    attnResolutions: [...attn].sort((a, b) => b - a),
    embMult: layer0!.shape[0] / c0,
    augmentDim: augment ? augment.shape[1] : 0,
  });
}

/** The fixed [1, 1] resample filter of EDM's Conv2d: 0.25 everywhere, [1, 1, 2, 2]. */
function checkResampleFilter(t: TensorRef, key: string, what: string): void {
  expect(t.shape.join() === '1,1,2,2', what, `${key} has shape [${t.shape.join(', ')}], expected [1, 1, 2, 2]`);
  const v = readTensor(t);
  expect(
    v.every((x) => x === 0.25),
    what,
    `${key} is not EDM's [1, 1] filter (0.25 everywhere): only resample_filter [1, 1] is supported`,
  );
}

/** Reads an EDM network file and checks it against the one UNet builder. */
export function readEdmCheckpoint(path: string, opts: { numClasses?: number } = {}): EdmCheckpoint {
  const src = openFileSource(path);
  try {
    const format = detect(src);
    let raw: Map<string, TensorRef>;
    let kwargs: Record<string, unknown> | null = null;
    if (format === 'pkl') {
      const snap = readEdmSnapshot(src);
      expect(snap.className === 'EDMPrecond', path, `the snapshot's network is ${snap.className}; only EDMPrecond is supported`);
      raw = snap.stateDict;
      kwargs = snap.kwargs;
    } else raw = format === 'pt' ? readTorchZip(src) : safetensorsRefs(src);
    // EDMPrecond's SongUNet is its `model`: strip the prefix (state dicts saved from the SongUNet alone have none).
    const sd = new Map<string, TensorRef>();
    for (const [k, t] of raw) sd.set(k.startsWith('model.') ? k.slice(6) : k, t);
    const network = kwargs ? edmConfigFromKwargs(kwargs, path) : edmConfigFromStateDict(sd, path, opts.numClasses);
    const graph = buildDenoiserGraph(network);
    const tensors = new Map<string, TensorRef>();
    for (const p of graph.params) {
      const t = sd.get(p.name);
      expect(t, path, `missing key 'model.${p.name}' (shape [${p.shape.join(', ')}])`);
      expect(t!.shape.join() === p.shape.join(), path, `key 'model.${p.name}' has shape [${t!.shape.join(', ')}], the network needs [${p.shape.join(', ')}]`);
      tensors.set(p.name, t!);
      sd.delete(p.name);
    }
    for (const [k, t] of sd) {
      if (/\.resample_filter$/.test(k)) checkResampleFilter(t, `model.${k}`, path);
      else
        throw new InputError(
          `${path}: unexpected key 'model.${k}' (shape [${t.shape.join(', ')}]): not part of ${network.conditioning === 'label' ? 'a label-conditional' : 'an unconditional'} SongUNet of this configuration`,
          'bad_checkpoint',
        );
    }
    return { path, format, sha256: fileSha256(src), network, tensors, kwargs, close: () => src.close() };
  } catch (err) {
    src.close();
    if (err instanceof PickleError) throw new InputError(err.message, 'bad_checkpoint');
    if (err instanceof RangeError) throw new InputError(`${path}: the file is truncated (${err.message})`, 'bad_checkpoint');
    throw err;
  }
}

/** The weights of a checkpoint, one tensor at a time from the file. */
export function loadEdmWeights(ck: EdmCheckpoint): Weights {
  const out: Weights = {};
  try {
    for (const [name, t] of ck.tensors) out[name] = { data: readTensor(t), dims: [...t.shape] };
  } catch (err) {
    if (err instanceof RangeError || err instanceof PickleError)
      throw new InputError(`${ck.path}: ${err.message} (the file is truncated or damaged)`, 'bad_checkpoint');
    throw err;
  }
  return out;
}
