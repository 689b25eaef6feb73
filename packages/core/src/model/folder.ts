/**
 * The model folder (docs/design.md): one folder holding
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

import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { DcConfig, type DenoiserNetworkConfig, type MethodName, type NetworkConfig } from '../config/schema.js';
import { InputError } from '../errors.js';
import { graphToOnnx } from '../nn/onnx/writer.js';
import { checkWeights } from '../nn/weights.js';
import type { Weights } from '../tensor.js';
import { configChecksum, relativePaths, sha256 } from './checksum.js';
import { FILE_NAME, MODEL_FORMAT, ModelConfig, type Calibration, type MeasuredFigures, type ModelGuard } from './config.js';
import { buildNetworkGraphs, type FolderGraph, type GraphKind } from './graphs.js';
import { isLegacyUNet } from './migrate.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

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

/** Writes config.json (with its checksum) and the card atomically: each through a temporary file. */
export function writeConfigAndCard(root: string, config: ModelConfig, card?: Uint8Array): void {
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
  /** The figures the card states (`MeasuredFigures`; a re-exported model starts with none). */
  measured?: MeasuredFigures;
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
    measured: opts.measured ?? { robust: [], certified: [] },
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
  // A training run's folder (checkpoints, latest.json) is not a model: it is exported into one.
  if (existsSync(join(root, 'latest.json')) || existsSync(join(root, 'checkpoints')))
    throw new InputError(`'${root}' is a training run, not a model folder: export it with 'rdc export --run ${dir} --model DIR'`, 'bad_model');
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
