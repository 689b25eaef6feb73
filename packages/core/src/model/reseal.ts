/**
 * Re-sealing a model folder written by an older version (rdc reseal).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { sha256 } from './checksum.js';
import { ModelConfig } from './config.js';
import { writeModelFolder } from './folder.js';
import { isLegacyUNet, legacyNetwork, legacyWeights } from './migrate.js';
import { decodeSafetensors } from './safetensors.js';

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
  if (legacy) unsealed.network = legacyNetwork(unsealed.network as object);
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
  const lmPath = join(root, 'lm.safetensors');
  if (c.lmNetwork && (!c.files['lm.safetensors'] || !existsSync(lmPath) || sha256(readFileSync(lmPath)) !== c.files['lm.safetensors'].sha256))
    throw new InputError(`model folder ${root}: lm.safetensors is missing or does not match config.json; re-export the model instead`, 'bad_model');
  return writeModelFolder(root, {
    network: c.network,
    lmNetwork: c.lmNetwork,
    lmWeights: c.lmNetwork ? decodeSafetensors(readFileSync(lmPath), lmPath).tensors : undefined,
    // Old names to EDM's; the values as they are.
    weights: legacy ? legacyWeights(tensors, c.network.image.height) : tensors,
    classes: c.classes,
    dc: c.dc,
    temperature: c.temperature,
    lmMethod: c.lmMethod,
    calibration: c.calibration,
    guard: c.guard,
    measured: c.measured,
    training: c.training,
    createdAt: c.createdAt,
    card: readFileSync(join(root, 'MODEL_CARD.md'), 'utf8'),
    keepOtherFiles: true,
  });
}
