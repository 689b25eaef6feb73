import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { DcConfig, MethodName, NetworkConfig } from '../config/schema.js';
import { checkWeights, type Weights } from '../engines/engine.js';
import { InputError } from '../errors.js';
import { buildNetworkGraphs, type GraphKind } from './graphs.js';
import type { Graph } from '../nn/graph.js';
import { graphToOnnx } from '../nn/onnx.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

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

export const ModelConfig = z.object({
  format: z.literal(MODEL_FORMAT),
  version: z.literal(1),
  network: NetworkConfig,
  classes: z.array(z.string()).min(1),
  /** The DC settings the model was calibrated with (and serves by default). */
  dc: DcConfig,
  /** Softmax temperature fitted on a validation split (null: not calibrated, T = 1). */
  temperature: z.number().positive().nullable(),
  /** The LM preset of the RDC unless a request or command names one (chosen on a validation split). */
  lmMethod: MethodName.default('released'),
  calibration: Calibration.nullable().default(null),
  /** How the weights were made: command, data, steps, wall time, machine, commit. */
  training: z.record(z.string(), z.unknown()).default({}),
  createdAt: z.string(),
  files: z.record(z.string(), FileEntry),
});
export type ModelConfig = z.infer<typeof ModelConfig>;

export interface ModelFolder {
  dir: string;
  config: ModelConfig;
  weights: Weights;
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

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface WriteModelOptions {
  network: NetworkConfig;
  weights: Weights;
  classes: string[];
  dc?: Partial<DcConfig>;
  temperature?: number | null;
  lmMethod?: MethodName;
  calibration?: Calibration | null;
  training?: Record<string, unknown>;
  /** MODEL_CARD.md text. */
  card: string;
}

/**
 * The ONNX files this code emits for a network whose weights sit at `offsets` of model.safetensors.
 * A folder's recorded sha256 of each file is therefore also the hash of the graph structure that
 * emitted it: on reading, a file this code would not emit byte for byte is stale.
 */
function emitGraphs(graphs: Partial<Record<GraphKind, Graph>>, offsets: Record<string, { offset: number; length: number }>): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const [kind, g] of Object.entries(graphs)) {
    if (g) out[ONNX_FILES[kind as GraphKind]] = graphToOnnx(g, { weights: { mode: 'external', location: 'model.safetensors', offsets }, name: kind });
  }
  return out;
}

/** Writes a model folder atomically (a half-written folder never replaces a good one). */
export function writeModelFolder(dir: string, opts: WriteModelOptions): ModelConfig {
  const target = resolve(dir);
  const graphs = buildNetworkGraphs(opts.network);
  for (const g of Object.values(graphs)) if (g) checkWeights(g, opts.weights);
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });

  const files: Record<string, Uint8Array> = {};
  // Only the parameters the network uses, once.
  const used: Weights = {};
  for (const g of Object.values(graphs)) if (g) for (const p of g.params) used[p.name] = opts.weights[p.name];
  files['model.safetensors'] = encodeSafetensors(used, { format: MODEL_FORMAT });
  Object.assign(files, emitGraphs(graphs, decodeSafetensors(files['model.safetensors']).offsets));
  files['MODEL_CARD.md'] = Buffer.from(opts.card.endsWith('\n') ? opts.card : `${opts.card}\n`);

  const config = ModelConfig.parse({
    format: MODEL_FORMAT,
    version: 1,
    network: opts.network,
    classes: opts.classes,
    dc: DcConfig.parse(opts.dc ?? {}),
    temperature: opts.temperature ?? null,
    lmMethod: opts.lmMethod ?? 'released',
    calibration: opts.calibration ?? null,
    training: opts.training ?? {},
    createdAt: new Date().toISOString(),
    files: Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, { sha256: sha256(bytes), bytes: bytes.length }])),
  });
  if (config.classes.length !== config.network.numClasses) {
    throw new InputError(`model: ${config.classes.length} class names for a network with ${config.network.numClasses} classes`);
  }
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(tmp, name), bytes);
  writeFileSync(join(tmp, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);

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
  const parsed = ModelConfig.safeParse(raw);
  if (!parsed.success) {
    throw new InputError(`${cfgPath}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, 'bad_model');
  }
  const config = parsed.data;
  for (const [name, entry] of Object.entries(config.files)) {
    const path = join(root, name);
    if (!existsSync(path)) throw new InputError(`model folder ${root}: ${name} is missing`, 'bad_model');
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
  const { tensors, offsets } = decodeSafetensors(readFileSync(join(root, 'model.safetensors')), join(root, 'model.safetensors'));
  const graphs = buildNetworkGraphs(config.network);
  for (const g of Object.values(graphs)) if (g) checkWeights(g, tensors);
  const current = emitGraphs(graphs, offsets);
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
  return { dir: root, config, weights: tensors, onnx, stale };
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
  const bytes = Buffer.from(next);
  const config = { ...model.config, files: { ...model.config.files, 'MODEL_CARD.md': { sha256: sha256(bytes), bytes: bytes.length } } };
  const tmpCard = `${cardPath}.tmp-${process.pid}`;
  const cfgPath = join(root, 'config.json');
  const tmpCfg = `${cfgPath}.tmp-${process.pid}`;
  writeFileSync(tmpCard, bytes);
  writeFileSync(tmpCfg, `${JSON.stringify(config, null, 2)}\n`);
  renameSync(tmpCard, cardPath);
  renameSync(tmpCfg, cfgPath);
}
