import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { DcConfig, GmmConfig, MethodName, NetworkConfig, UNetConfig, type DenoiserNetworkConfig } from '../config/schema.js';
import { InputError } from '../errors.js';
import { buildNetworkGraphs, type FolderGraph, type GraphKind } from './graphs.js';
import { isLegacyUNet, LEGACY_LAYOUT, legacyParamName } from './migrate.js';
import type { Graph } from '../nn/graph/index.js';
import { graphToOnnx } from '../nn/onnx/writer.js';
import { GuardReport, NOT_A_DIFFUSION_CLASSIFIER } from '../method/guard.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';
import type { Weights } from '../tensor.js';
import { checkWeights } from '../nn/weights.js';

/**
 * The model folder (architecture.md): one folder holding
 * - `model.safetensors`: the weights, once;
 * - ONNX graphs that reference the weights in model.safetensors as external data (offsets), so there
 *   is no second copy: `denoiser.onnx`, `dc_chunk.onnx`, and the reverse passes `dc_vjp.onnx` (the
 *   DC logits' input gradient) and `lm_grad.onnx` (LM's); `classifier.onnx` and
 *   `classifier_vjp.onnx` for a CNN;
 * - `config.json`: the single source of truth (network, classes, σ grid and weighting, temperature,
 *   training provenance) with the sha256 of every other file;
 * - `MODEL_CARD.md`.
 * Every reader verifies the checksums and names the file that is wrong.
 *
 * @example
 * writeModelFolder('models/default', { network, weights, classes, card: '# My model' });
 * const model = readModelFolder('models/default');
 */

export const MODEL_FORMAT = 'rdc-model';

/** A file of a model folder: a plain name inside it, never a path (no '/', no '..', not hidden). */
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export const FileEntry = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int().nonnegative() });

export const Calibration = z.object({
  images: z.number().int().positive(),
  split: z.string(),
  levels: z.number().int().positive(),
  nllBefore: z.number(),
  nllAfter: z.number(),
  accuracy: z.number(),
});
export type Calibration = z.infer<typeof Calibration>;

export const ModelGuard = z.object({ validation: GuardReport, test: GuardReport.nullable() });
export type ModelGuard = z.infer<typeof ModelGuard>;

/**
 * What the generative guard says of a model: its class heads denoise, they do not (a discriminative
 * readout: labelled wherever the model is shown), it was never measured, or it does not apply (a CNN).
 */
export function guardStatus(config: Pick<ModelConfig, 'network' | 'guard'>): 'denoises' | 'discriminative' | 'unmeasured' | 'not-applicable' {
  if (config.network.arch === 'cnn') return 'not-applicable';
  if (!config.guard) return 'unmeasured';
  return config.guard.validation.denoises ? 'denoises' : 'discriminative';
}

/** The label shown beside a model (outputs, the API, the page): null when there is nothing to say. */
export function guardLabel(config: Pick<ModelConfig, 'network' | 'guard'>): string | null {
  const status = guardStatus(config);
  if (status === 'discriminative') return NOT_A_DIFFUSION_CLASSIFIER;
  if (status === 'unmeasured') return 'the generative guard was not measured on this model (re-export it to check that its class heads denoise)';
  return null;
}

export const ModelConfig = z.object({
  format: z.literal(MODEL_FORMAT),
  version: z.literal(1),
  network: NetworkConfig,
  classes: z.array(z.string().min(1)).min(1),
  /** The DC settings the model was calibrated with (and serves by default). */
  dc: DcConfig,
  /** A separate unconditional network for LM (weights in lm.safetensors), or null: LM uses the network's own unconditional head. */
  lmNetwork: z.union([UNetConfig, GmmConfig]).nullable().default(null),
  /** Softmax temperature fitted on a validation split (null: not calibrated, T = 1). */
  temperature: z.number().positive().nullable(),
  /** The LM preset of the RDC unless a request or command names one (chosen on a validation split). */
  lmMethod: MethodName.default('released'),
  calibration: Calibration.nullable().default(null),
  /**
   * The generative guard (method/guard.ts) measured when the folder was written: the verdict on
   * validation images, and the same table on the first test images (for the card). Absent in folders
   * written before the guard existed.
   */
  guard: ModelGuard.optional(),
  /** How the weights were made: command, data, steps, wall time, machine, commit (paths relative or omitted). */
  training: z.record(z.string(), z.unknown()).default({}),
  createdAt: z.string(),
  /** The other files of the folder (plain names inside it) with their sha256. */
  files: z.record(z.string(), FileEntry),
  /** sha256 of this config's canonical JSON without this field (`configChecksum`): any change to config.json is detected. */
  configSha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ModelConfig = z.infer<typeof ModelConfig>;

export interface ModelFolder {
  dir: string;
  config: ModelConfig;
  weights: Weights;
  /** The weights of the separate LM network, if any. */
  lmWeights: Weights | null;
  /** Absolute paths of the ONNX graphs by kind: only those this code emits identically (see `stale`). */
  onnx: Partial<Record<GraphKind, string>>;
  /** ONNX files emitted by other graph code than this version's: not used; their graphs are compiled from the weights. */
  stale: GraphKind[];
}

const ONNX_FILES: Record<GraphKind, string> = {
  denoiser: 'denoiser.onnx',
  dcChunk: 'dc_chunk.onnx',
  dcVjp: 'dc_vjp.onnx',
  lmGrad: 'lm_grad.onnx',
  classifier: 'classifier.onnx',
  classifierVjp: 'classifier_vjp.onnx',
};

function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** JSON with object keys sorted at every level: the same bytes for the same content, however it was formatted. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** The checksum config.json carries of itself: sha256 of its canonical JSON without `configSha256`. */
export function configChecksum(config: Omit<ModelConfig, 'configSha256'> & { configSha256?: string }): string {
  const { configSha256: _, ...rest } = config;
  return sha256(canonicalJson(rest));
}

/**
 * Absolute paths (two or more components) inside recorded text (commands, data folders) replaced by their last component, so
 * that nothing a model folder records names a directory of the machine that made it.
 *
 * @example
 * relativePaths('--data-dir /home/me/cifar') // '--data-dir cifar'
 */
export function relativePaths<T>(value: T): T {
  const strip = (s: string) => s.replace(/(?<![\w.:/~-])(?:\/[^\s"'`/]+){2,}\/?/g, (m) => m.replace(/\/$/, '').split('/').pop() || '.');
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return strip(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/** Writes config.json (with its checksum) and the card atomically: each through a temporary file. */
function writeConfigAndCard(root: string, config: ModelConfig, card?: Uint8Array): void {
  const pending: [string, string | Uint8Array][] = [];
  if (card) pending.push([join(root, 'MODEL_CARD.md'), card]);
  pending.push([join(root, 'config.json'), `${JSON.stringify(config, null, 2)}\n`]);
  for (const [path, bytes] of pending) writeFileSync(`${path}.tmp-${process.pid}`, bytes);
  for (const [path] of pending) renameSync(`${path}.tmp-${process.pid}`, path);
}

export interface WriteModelOptions {
  network: NetworkConfig;
  weights: Weights;
  /** A separate unconditional network for LM, and its weights. */
  lmNetwork?: DenoiserNetworkConfig | null;
  lmWeights?: Weights;
  classes: string[];
  dc?: Partial<DcConfig>;
  temperature?: number | null;
  lmMethod?: MethodName;
  calibration?: Calibration | null;
  guard?: ModelGuard;
  training?: Record<string, unknown>;
  /** Kept by `resealModelFolder`; default now. */
  createdAt?: string;
  /** Keep the old folder's other entries (e.g. samples/): for re-sealing the same weights. */
  keepOtherFiles?: boolean;
  /** MODEL_CARD.md text. */
  card: string;
}

function checkClasses(config: Pick<ModelConfig, 'classes' | 'network'>, where = 'model'): void {
  if (config.classes.length !== config.network.numClasses)
    throw new InputError(`${where}: ${config.classes.length} class names for a network with ${config.network.numClasses} classes`, 'bad_model');
  if (new Set(config.classes).size !== config.classes.length) throw new InputError(`${where}: the class names are not distinct`, 'bad_model');
}

/**
 * The ONNX files this code emits for a network whose weights sit at `offsets` of model.safetensors.
 * A folder's recorded sha256 of each file is therefore also the hash of the graph structure that
 * emitted it: on reading, a file this code would not emit byte for byte is stale.
 */
function emitGraphs(
  graphs: Partial<Record<GraphKind, FolderGraph>>,
  offsets: Record<string, Record<string, { offset: number; length: number }>>,
): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const [kind, g] of Object.entries(graphs)) {
    if (g)
      out[ONNX_FILES[kind as GraphKind]] = graphToOnnx(g.graph, {
        weights: { mode: 'external', location: g.weights, offsets: offsets[g.weights] },
        name: kind,
      });
  }
  return out;
}

/** Checks the weights of every graph, each against its weights file. */
function checkGraphWeights(graphs: Partial<Record<GraphKind, FolderGraph>>, weights: Record<string, Weights | undefined>): void {
  for (const g of Object.values(graphs)) {
    if (!g) continue;
    const w = weights[g.weights];
    if (!w) throw new InputError(`model: ${g.weights} is needed by the graphs but missing`, 'bad_model');
    checkWeights(g.graph, w);
  }
}

/** Writes a model folder atomically (a half-written folder never replaces a good one). */
export function writeModelFolder(dir: string, opts: WriteModelOptions): ModelConfig {
  const target = resolve(dir);
  const lmNetwork = opts.lmNetwork ?? null;
  if (lmNetwork && !opts.lmWeights) throw new InputError('model: a separate LM network needs its weights', 'bad_model');
  const graphs = buildNetworkGraphs(opts.network, lmNetwork);
  checkGraphWeights(graphs, { 'model.safetensors': opts.weights, 'lm.safetensors': opts.lmWeights });
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });

  const files: Record<string, Uint8Array> = {};
  // Only the parameters the graphs use, once per weights file.
  const offsets: Record<string, Record<string, { offset: number; length: number }>> = {};
  for (const [file, source] of [
    ['model.safetensors', opts.weights],
    ['lm.safetensors', opts.lmWeights],
  ] as const) {
    const used: Weights = {};
    for (const g of Object.values(graphs)) if (g?.weights === file) for (const p of g.graph.params) used[p.name] = source![p.name];
    if (!Object.keys(used).length) continue;
    files[file] = encodeSafetensors(used, { format: MODEL_FORMAT });
    offsets[file] = decodeSafetensors(files[file]).offsets;
  }
  Object.assign(files, emitGraphs(graphs, offsets));
  const card = relativePaths(opts.card);
  files['MODEL_CARD.md'] = Buffer.from(card.endsWith('\n') ? card : `${card}\n`);

  const unsealed = {
    format: MODEL_FORMAT,
    version: 1,
    network: opts.network,
    classes: opts.classes,
    dc: DcConfig.parse(opts.dc ?? {}),
    lmNetwork,
    temperature: opts.temperature ?? null,
    lmMethod: opts.lmMethod ?? 'released',
    calibration: opts.calibration ?? null,
    ...(opts.guard ? { guard: opts.guard } : {}),
    training: relativePaths(opts.training ?? {}),
    createdAt: opts.createdAt ?? new Date().toISOString(),
    files: Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, { sha256: sha256(bytes), bytes: bytes.length }])),
  };
  const config = ModelConfig.parse({ ...unsealed, configSha256: configChecksum(ModelConfig.omit({ configSha256: true }).parse(unsealed)) });
  checkClasses(config);
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(tmp, name), bytes);
  writeFileSync(join(tmp, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);

  // Other entries of the old folder (a samples/ folder the card links to) move along when asked.
  if (opts.keepOtherFiles && existsSync(target))
    for (const entry of readdirSync(target)) if (!(entry in files) && entry !== 'config.json') renameSync(join(target, entry), join(tmp, entry));
  const old = `${tmp}.old`;
  if (existsSync(target)) renameSync(target, old);
  renameSync(tmp, target);
  rmSync(old, { recursive: true, force: true });
  return config;
}

/**
 * Reads and verifies a model folder. ONNX files that this version of the graph code would emit
 * differently (a fix since the folder was exported) are left unused, with a warning: their graphs
 * are compiled from the weights instead, so a fix always applies.
 */
export function readModelFolder(dir: string, opts: { warn?: (message: string) => void } = {}): ModelFolder {
  const root = resolve(dir);
  const cfgPath = join(root, 'config.json');
  if (!existsSync(cfgPath)) throw new InputError(`'${root}' is not a model folder: config.json is missing (make one with 'rdc export')`, 'bad_model');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (err) {
    throw new InputError(`${cfgPath}: not valid JSON (${(err as Error).message})`, 'bad_model');
  }
  const reseal = `run 'rdc reseal --model ${dir}' if you made or trust this folder`;
  if (raw && typeof raw === 'object' && !('configSha256' in raw))
    throw new InputError(`${cfgPath} has no checksum of its own (written before config.json was sealed): ${reseal}`, 'bad_model');
  if (isLegacyUNet((raw as { network?: unknown }).network))
    throw new InputError(`${cfgPath} describes its network in the layout before EDM's (written by an older version): ${reseal}`, 'bad_model');
  const parsed = ModelConfig.safeParse(raw);
  if (!parsed.success) {
    throw new InputError(`${cfgPath}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, 'bad_model');
  }
  const config = parsed.data;
  if (configChecksum(raw as ModelConfig) !== config.configSha256)
    throw new InputError(
      `${cfgPath} was changed after it was written (its checksum does not match its content): re-export the model, or ${reseal}`,
      'bad_model',
    );
  checkClasses(config, cfgPath);
  const realRoot = realpathSync(root);
  for (const [name, entry] of Object.entries(config.files)) {
    if (!FILE_NAME.test(name))
      throw new InputError(
        `${cfgPath} lists the file '${name.slice(0, 80)}': only plain file names inside the model folder are allowed (no paths)`,
        'bad_model',
      );
    const path = join(root, name);
    if (!existsSync(path)) throw new InputError(`model folder ${root}: ${name} is missing`, 'bad_model');
    if (lstatSync(path).isSymbolicLink() && dirname(realpathSync(path)) !== realRoot)
      throw new InputError(`model folder ${root}: ${name} is a link to a file outside the folder; copy the file into the folder`, 'bad_model');
    const bytes = readFileSync(path);
    const got = sha256(bytes);
    if (got !== entry.sha256) {
      throw new InputError(
        `model folder ${root}: ${name} has sha256 ${got}, config.json expects ${entry.sha256}: the file is corrupt or was changed (re-export the model)`,
        'bad_model',
      );
    }
  }
  if (!config.files['model.safetensors']) throw new InputError(`model folder ${root}: config.json lists no model.safetensors`, 'bad_model');
  const read = (file: string) => (config.files[file] ? decodeSafetensors(readFileSync(join(root, file)), join(root, file)) : null);
  const main = read('model.safetensors')!;
  const lm = read('lm.safetensors');
  if (config.lmNetwork && !lm) throw new InputError(`model folder ${root}: config.json names an LM network but lists no lm.safetensors`, 'bad_model');
  const graphs = buildNetworkGraphs(config.network, config.lmNetwork);
  checkGraphWeights(graphs, { 'model.safetensors': main.tensors, 'lm.safetensors': lm?.tensors });
  const current = emitGraphs(graphs, { 'model.safetensors': main.offsets, ...(lm ? { 'lm.safetensors': lm.offsets } : {}) });
  const onnx: ModelFolder['onnx'] = {};
  const stale: GraphKind[] = [];
  for (const [kind, file] of Object.entries(ONNX_FILES) as [GraphKind, string][]) {
    if (!config.files[file]) continue;
    if (current[file] && sha256(current[file]) === config.files[file].sha256) onnx[kind] = join(root, file);
    else stale.push(kind);
  }
  if (stale.length) {
    const warn = opts.warn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
    warn(
      `model folder ${root}: ${stale.map((k) => ONNX_FILES[k]).join(', ')} ${stale.length > 1 ? 'were' : 'was'} emitted by another version of the graph code; compiling the current graphs from the weights instead (rdc reseal --model ${dir} rewrites them)`,
    );
  }
  return { dir: root, config, weights: main.tensors, lmWeights: lm?.tensors ?? null, onnx, stale };
}

/**
 * The marked sections of a MODEL_CARD.md text (those `updateModelCardSection` writes), by name.
 *
 * @example
 * modelCardSections(card)['eval-dc']; // '- **DC**: clean accuracy 55.9 % …'
 */
export function modelCardSections(card: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of card.matchAll(/<!-- rdc:([\w.-]+) -->\n([\s\S]*?)\n<!-- \/rdc:\1 -->/g)) out[m[1]] = m[2].trim();
  return out;
}

/**
 * Replaces a marked section of MODEL_CARD.md (between `<!-- rdc:NAME -->` and `<!-- /rdc:NAME -->`,
 * appended if absent) and updates its checksum in config.json, atomically.
 */
export function updateModelCardSection(dir: string, name: string, markdown: string): void {
  const root = resolve(dir);
  const model = readModelFolder(root);
  const cardPath = join(root, 'MODEL_CARD.md');
  const card = readFileSync(cardPath, 'utf8');
  const open = `<!-- rdc:${name} -->`;
  const close = `<!-- /rdc:${name} -->`;
  const block = `${open}\n${markdown.trim()}\n${close}`;
  const a = card.indexOf(open);
  const b = card.indexOf(close);
  const next = a >= 0 && b > a ? `${card.slice(0, a)}${block}${card.slice(b + close.length)}` : `${card.trimEnd()}\n\n${block}\n`;
  const bytes = Buffer.from(relativePaths(next));
  const files = { ...model.config.files, 'MODEL_CARD.md': { sha256: sha256(bytes), bytes: bytes.length } };
  const config = { ...model.config, files };
  writeConfigAndCard(root, { ...config, configSha256: configChecksum(config) }, bytes);
}

/**
 * Re-seals a model folder: re-emits its ONNX graphs from the weights with this version's code,
 * makes recorded paths relative, and writes config.json with its own checksum. The weights' values
 * and every recorded setting stay as they are; a network in the layout before EDM's is described
 * with the layout options that reproduce it and its weights get EDM's names (`migrate.ts`). For
 * folders written before config.json carried a checksum (they are refused until re-sealed), folders
 * of that older layout, and folders with stale graphs.
 *
 * @example
 * resealModelFolder('models/default');
 */
export function resealModelFolder(dir: string): ModelConfig {
  const root = resolve(dir);
  const cfgPath = join(root, 'config.json');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (err) {
    throw new InputError(`${cfgPath}: cannot be read as JSON (${(err as Error).message})`, 'bad_model');
  }
  const { configSha256: _, ...unsealed } = raw;
  const legacy = isLegacyUNet(unsealed.network);
  if (legacy) unsealed.network = { ...(unsealed.network as object), ...LEGACY_LAYOUT };
  const config = ModelConfig.omit({ configSha256: true }).safeParse(unsealed);
  if (!config.success)
    throw new InputError(`${cfgPath}: ${config.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, 'bad_model');
  const c = config.data;
  // The weights and the card must still be the files config.json recorded.
  for (const name of ['model.safetensors', 'MODEL_CARD.md']) {
    const entry = c.files[name];
    const path = join(root, name);
    if (!entry || !existsSync(path) || sha256(readFileSync(path)) !== entry.sha256)
      throw new InputError(`model folder ${root}: ${name} is missing or does not match config.json; re-export the model instead`, 'bad_model');
  }
  const { tensors } = decodeSafetensors(readFileSync(join(root, 'model.safetensors')), join(root, 'model.safetensors'));
  const res = c.network.image.height;
  const lmPath = join(root, 'lm.safetensors');
  if (c.lmNetwork && (!c.files['lm.safetensors'] || !existsSync(lmPath) || sha256(readFileSync(lmPath)) !== c.files['lm.safetensors'].sha256))
    throw new InputError(`model folder ${root}: lm.safetensors is missing or does not match config.json; re-export the model instead`, 'bad_model');
  return writeModelFolder(root, {
    network: c.network,
    lmNetwork: c.lmNetwork,
    lmWeights: c.lmNetwork ? decodeSafetensors(readFileSync(lmPath), lmPath).tensors : undefined,
    // Old names to EDM's; the values as they are.
    weights: legacy ? Object.fromEntries(Object.entries(tensors).map(([k, w]) => [legacyParamName(k, res), w])) : tensors,
    classes: c.classes,
    dc: c.dc,
    temperature: c.temperature,
    lmMethod: c.lmMethod,
    calibration: c.calibration,
    guard: c.guard,
    training: c.training,
    createdAt: c.createdAt,
    card: readFileSync(join(root, 'MODEL_CARD.md'), 'utf8'),
    keepOtherFiles: true,
  });
}
