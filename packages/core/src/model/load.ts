import { type DcConfig, type LmConfig, lmPreset, type MethodName } from '../config/schema.js';
import { Denoiser } from '../engines/denoiser.js';
import type { Engine } from '../engines/engine.js';
import { InputError } from '../errors.js';
import { type Classifier, DcClassifier, NetworkClassifier, RdcClassifier } from '../method/classifier.js';
import { DiffusionClassifier } from '../method/dc.js';
import { LikelihoodMaximizer } from '../method/lm.js';
import type { ModelFolder } from './folder.js';

/**
 * Builds the classifier a command or request asks for from a model folder: the DC or the RDC of a
 * diffusion model (with the model's calibrated σ grid and temperature unless overridden), or the
 * plain network of a CNN (`defense: 'none'`).
 *
 * @example
 * const clf = openClassifier(readModelFolder('models/default'), engine, { defense: 'rdc', method: 'released' });
 */
export interface ClassifierOptions {
  defense: 'none' | 'dc' | 'rdc';
  /** LM preset; default: the model's `lmMethod`. */
  method?: MethodName;
  dc?: Partial<DcConfig>;
  lm?: Partial<LmConfig>;
  /** RDC gradients: BPDA through LM (default) or the full second-order gradient. */
  gradient?: 'bpda' | 'full';
}

/**
 * The denoisers of a diffusion model folder on an engine: the main network (its exported graphs on
 * ONNX Runtime), and LM's: the separate unconditional network if the folder has one (also the
 * unconditional head beside a label-conditional main network), else the main network itself, or
 * null when neither has an unconditional head.
 *
 * @example
 * const { main, lm } = modelDenoisers(readModelFolder('models/edm'), engine);
 */
export function modelDenoisers(model: ModelFolder, engine: Engine): { main: Denoiser; lm: Denoiser | null } {
  const { network, lmNetwork } = model.config;
  if (network.arch === 'cnn') throw new InputError(`${model.dir} is a CNN classifier, not a diffusion model`, 'bad_defense');
  const files = engine.info.engine === 'ort' ? model.onnx : {};
  if (lmNetwork) {
    const lm = new Denoiser(engine, lmNetwork, model.lmWeights!, { lmGrad: files.lmGrad });
    const { lmGrad: _, ...own } = files;
    return { main: new Denoiser(engine, network, model.weights, own, lm), lm };
  }
  const main = new Denoiser(engine, network, model.weights, files);
  return { main, lm: main.hasUnconditionalHead ? main : null };
}

export function openClassifier(model: ModelFolder, engine: Engine, opts: ClassifierOptions): Classifier {
  const { network } = model.config;
  const temperature = model.config.temperature ?? 1;
  if (network.arch === 'cnn') {
    if (opts.defense !== 'none')
      throw new InputError(`${model.dir} is a CNN classifier: use --defense none (dc and rdc need a diffusion model)`, 'bad_defense');
    return new NetworkClassifier(engine, network, model.weights, temperature, engine.info.engine === 'ort' ? model.onnx : {});
  }
  if (opts.defense === 'none') throw new InputError(`${model.dir} is a diffusion model: use --defense dc or rdc`, 'bad_defense');
  const { main, lm } = modelDenoisers(model, engine);
  const dc = new DiffusionClassifier(main, { ...model.config.dc, ...opts.dc });
  if (opts.defense === 'dc') return new DcClassifier(dc, temperature);
  if (!lm) throw new InputError(`${model.dir} has no unconditional network for LM: the RDC needs one (rdc import edm --uncond FILE)`, 'bad_defense');
  return new RdcClassifier(
    dc,
    new LikelihoodMaximizer(lm, { ...lmPreset(opts.method ?? model.config.lmMethod), ...opts.lm }),
    temperature,
    opts.gradient ?? 'bpda',
  );
}
