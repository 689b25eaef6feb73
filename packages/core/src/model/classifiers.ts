/**
 * The one road from a model to its users: `ClassifierFactory` builds the classifier a command, a
 * request, the trainer's validation or a test asks for (the DC or the RDC of a diffusion model with
 * its calibrated σ grid and temperature unless overridden, or the plain network of a CNN), caches
 * one per option set, shares the compiled graphs between them, and estimates what a request costs.
 *
 * @example
 * const factory = new ClassifierFactory(readModelFolder('models/default'), engine);
 * const rdc = factory.get({ defense: 'rdc', method: 'paper' });
 * const logits = await rdc.logits(pixels, new Random(0));
 */
import { LRUCache } from 'lru-cache';
import { DcConfig, lmPreset, type DefenseName, type GradientMode, type LmConfig, type MethodName, type NetworkConfig, classifierKind, isClassifierNetwork } from '../config/schema.js';
import { Denoiser } from '../engines/denoiser.js';
import type { Engine } from '../engines/engine.js';
import { InputError } from '../errors.js';
import { type Classifier, DcClassifier, NetworkClassifier, RdcClassifier } from '../method/classifier.js';
import { DiffusionClassifier } from '../method/dc.js';
import { LikelihoodMaximizer } from '../method/lm.js';
import { ApndcBase, DcBase, EpndcBase, NetworkBase } from '../method/smoothing-bases.js';
import { epndcTerms } from '../sigma/terms.js';
import type { SmoothingBase, SmoothingBaseName } from '../method/smoothing.js';
import { buildClassifierGraph } from '../nn/cnn.js';
import { buildDenoiserGraph } from '../nn/denoiser-graph.js';
import { activationBytes, forwardMacs } from '../nn/graph/index.js';
import { pixelLengthToModel, type Weights } from '../tensor.js';
import type { ModelConfig } from './config.js';
import type { ModelFolder } from './folder.js';

export interface ClassifierOptions {
  defense: DefenseName;
  /** LM preset; default: the model's `lmMethod`. */
  method?: MethodName;
  dc?: Partial<DcConfig>;
  lm?: Partial<LmConfig>;
  /** RDC gradients: BPDA through LM (default) or the full second-order gradient. */
  gradient?: GradientMode;
}

/** What a classifier needs of a model: a folder read from disk, or weights in memory (`memoryModel`). */
export interface ModelSource {
  dir: string;
  config: Pick<ModelConfig, 'network' | 'lmNetwork' | 'dc' | 'temperature' | 'lmMethod'>;
  weights: Weights;
  lmWeights: Weights | null;
  /** Exported ONNX graphs by kind (ONNX Runtime loads them instead of compiling). */
  onnx: ModelFolder['onnx'];
}

/**
 * A model held in memory (weights being trained, a test's network), with the folder defaults: the
 * default σ grid, no temperature, the `paper` LM preset.
 *
 * @example
 * const clf = openClassifier(memoryModel(network, ema), engine, { defense: 'dc', dc: { levels: 10 } });
 */
export function memoryModel(
  network: NetworkConfig,
  weights: Weights,
  opts: { dc?: Partial<DcConfig>; temperature?: number | null; lmMethod?: MethodName } = {},
): ModelSource {
  return {
    dir: '(in memory)',
    config: { network, lmNetwork: null, dc: DcConfig.parse(opts.dc ?? {}), temperature: opts.temperature ?? null, lmMethod: opts.lmMethod ?? 'paper' },
    weights,
    lmWeights: null,
    onnx: {},
  };
}

/**
 * The denoisers of a diffusion model on an engine: the main network (its exported graphs on ONNX
 * Runtime), and LM's: the separate unconditional network if the folder has one (also the
 * unconditional head beside a label-conditional main network), else the main network itself, or
 * null when neither has an unconditional head.
 *
 * @example
 * const { main, lm } = modelDenoisers(readModelFolder('models/edm'), engine);
 */
export function modelDenoisers(model: ModelSource, engine: Engine): { main: Denoiser; lm: Denoiser | null } {
  const { network, lmNetwork } = model.config;
  if (isClassifierNetwork(network)) throw new InputError(`${model.dir} is ${classifierKind(network)}, not a diffusion model`, 'bad_defense');
  const files = engine.info.engine === 'ort' ? model.onnx : {};
  if (lmNetwork) {
    const lm = new Denoiser(engine, lmNetwork, model.lmWeights!, { lmGrad: files.lmGrad });
    const { lmGrad: _, ...own } = files;
    return { main: new Denoiser(engine, network, model.weights, own, lm), lm };
  }
  const main = new Denoiser(engine, network, model.weights, files);
  return { main, lm: main.hasUnconditionalHead ? main : null };
}

/** A stable key of an option set (object keys sorted). */
function optionsKey(o: ClassifierOptions): string {
  const sort = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
            .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
        )
      : v;
  return JSON.stringify(sort(o));
}

/**
 * How many classifiers and smoothing bases a factory keeps, least recently used first out: their
 * keys come from requests (levels, weighting, σ of the smoothing), each holds a few kB of grids and
 * weights; the compiled graphs they share are bounded by the denoiser's `GraphCache`.
 */
export const CACHED_CLASSIFIERS = 64;

export class ClassifierFactory {
  private readonly cache = new LRUCache<string, Classifier>({ max: CACHED_CLASSIFIERS });
  private readonly bases = new LRUCache<string, SmoothingBase>({ max: CACHED_CLASSIFIERS });
  private shared: { main: Denoiser; lm: Denoiser | null } | null = null;

  constructor(
    readonly model: ModelSource,
    readonly engine: Engine,
  ) {}

  private get temperature(): number {
    return this.model.config.temperature ?? 1;
  }

  /** The denoisers every classifier of this model shares (compiled graphs are cached in them). */
  denoisers(): { main: Denoiser; lm: Denoiser | null } {
    this.shared ??= modelDenoisers(this.model, this.engine);
    return this.shared;
  }

  /** Whether the model can run the RDC (it has an unconditional network or head for LM). */
  get hasLm(): boolean {
    return !isClassifierNetwork(this.model.config.network) && this.denoisers().lm !== null;
  }

  /** The defense a command or request that names none runs: a CNN's plain network, else the RDC where the model has LM, else the DC. */
  get defaultDefense(): DefenseName {
    return isClassifierNetwork(this.model.config.network) ? 'none' : this.hasLm ? 'rdc' : 'dc';
  }

  /** Network passes per σ level of the DC: 1 for a multi-head network, K for a label-conditional one (1 for a CNN: its one pass). */
  get passesPerLevel(): number {
    return isClassifierNetwork(this.model.config.network) ? 1 : this.denoisers().main.passesPerLevel;
  }

  /** The classifier for these options (one per option set, cached). */
  get(opts: ClassifierOptions): Classifier {
    const key = optionsKey(opts);
    let clf = this.cache.get(key);
    if (!clf) {
      clf = this.build(opts);
      this.cache.set(key, clf);
    }
    return clf;
  }

  private build(opts: ClassifierOptions): Classifier {
    const { network } = this.model.config;
    const dir = this.model.dir;
    if (isClassifierNetwork(network)) {
      if (opts.defense !== 'none') throw new InputError(`${dir} is ${classifierKind(network)}: use --defense none (dc and rdc need a diffusion model)`, 'bad_defense');
      return new NetworkClassifier(this.engine, network, this.model.weights, this.temperature, this.engine.info.engine === 'ort' ? this.model.onnx : {});
    }
    if (opts.defense === 'none') throw new InputError(`${dir} is a diffusion model: use --defense dc or rdc`, 'bad_defense');
    const { main, lm } = this.denoisers();
    const dc = new DiffusionClassifier(main, { ...this.model.config.dc, ...opts.dc });
    // Learned weights carry their own scale (fitted by cross-entropy): the model's temperature belongs to the released ones.
    const temperature = dc.config.weighting === 'learned' ? 1 : this.temperature;
    if (opts.defense === 'dc') return new DcClassifier(dc, temperature);
    if (!lm) throw new InputError(`${dir} has no unconditional network for LM: the RDC needs one (rdc import edm --uncond FILE)`, 'bad_defense');
    const method = opts.method ?? this.model.config.lmMethod;
    return new RdcClassifier(dc, new LikelihoodMaximizer(lm, { ...lmPreset(method), ...opts.lm }), temperature, opts.gradient ?? 'bpda');
  }

  /**
   * The base classifier of randomized smoothing (`rdc certify --base`): the plain network of a CNN
   * (`none`), the DC with the model's grid (`dc`, `levels` overriding its count), or a noised DC of
   * inputs with noise 2τ (model units), `levels` (default 10) evaluated levels from 2τ to σ_max in the
   * authors' convention (`sigma/grid.ts`): `apndc` (the unconditional head's one-step denoising at
   * σ = 2τ, then the DC on that grid with the model's weighting) or `epndc` (exact posterior means;
   * its first interval skipped). Cached like the classifiers.
   */
  smoothingBase(name: SmoothingBaseName, opts: { sigma: number; levels?: number }): SmoothingBase {
    // The plain network smooths any τ with the same compiled graph.
    const key = name === 'none' ? 'smoothing:none' : `smoothing:${name}:${opts.sigma}:${opts.levels ?? ''}`;
    let base = this.bases.get(key);
    if (base) return base;
    const { network } = this.model.config;
    const dir = this.model.dir;
    if (isClassifierNetwork(network)) {
      if (name !== 'none') throw new InputError(`${dir} is ${classifierKind(network)}: certify it with --base none`, 'bad_defense');
      base = new NetworkBase(this.engine, network, this.model.weights);
    } else {
      if (name === 'none') throw new InputError(`${dir} is a diffusion model: certify it with --base dc, apndc or epndc`, 'bad_defense');
      const { main, lm } = this.denoisers();
      const dc = this.model.config.dc;
      const from = pixelLengthToModel(opts.sigma);
      if (name !== 'dc' && !(from < dc.sigmaMax))
        throw new InputError(`--sigma ${opts.sigma}: 2τ = ${from} is not below the grid's σ_max ${dc.sigmaMax}`, 'bad_option');
      const levels = opts.levels ?? 10;
      if (name === 'dc') base = new DcBase(new DiffusionClassifier(main, { ...dc, levels: opts.levels ?? dc.levels, adaptive: null }));
      else if (name === 'epndc') {
        const weighting = dc.weighting === 'lognormal' || dc.weighting === 'uniform' ? dc.weighting : 'released';
        base = new EpndcBase(main, epndcTerms({ levels, sigmaT: from, max: dc.sigmaMax, weighting }));
      } else {
        if (!lm) throw new InputError(`${dir} has no unconditional head or network: apndc needs one (certify with --base dc or epndc)`, 'bad_defense');
        const grid = { ...dc, grid: 'linear' as const, sigmaMin: from, sigmaMax: dc.sigmaMax, levels, adaptive: null };
        base = new ApndcBase(new DiffusionClassifier(main, { ...grid, at: 'upper' }), lm, opts.sigma);
      }
    }
    this.bases.set(key, base);
    return base;
  }

  /** Multiply–accumulates of one pass per image of the DC's network (or the CNN), and of LM's (computed once). */
  macsPerPass(): { main: number; lm: number } {
    return (this.passCosts ??= this.measurePasses()).macs;
  }

  /** Bytes of the values one pass per image of the model's network computes (`activationBytes`; computed once). */
  activationBytesPerPass(): number {
    return (this.passCosts ??= this.measurePasses()).activationBytes;
  }

  private passCosts: { macs: { main: number; lm: number }; activationBytes: number } | null = null;

  private measurePasses() {
    const { network, lmNetwork } = this.model.config;
    const main = isClassifierNetwork(network) ? buildClassifierGraph(network) : buildDenoiserGraph(network);
    const lm = isClassifierNetwork(network) ? null : (lmNetwork ?? (this.hasLm ? network : null));
    return { macs: { main: forwardMacs(main), lm: lm ? forwardMacs(buildDenoiserGraph(lm)) : 0 }, activationBytes: activationBytes(main) };
  }

  /**
   * The estimated work of classifying `images` images with these options, in multiply–accumulates:
   * images × (levels × passes per level × MACs per pass + 3 × LM steps × MACs per LM pass); each LM
   * step is a forward and a backward pass (about 3 passes). A CNN: images × MACs per pass.
   */
  cost(opts: ClassifierOptions, images: number): number {
    const macs = this.macsPerPass();
    if (isClassifierNetwork(this.model.config.network)) return images * macs.main;
    const levels = opts.dc?.levels ?? this.model.config.dc.levels;
    const lmSteps = opts.defense === 'rdc' ? (opts.lm?.steps ?? lmPreset(opts.method ?? this.model.config.lmMethod).steps) : 0;
    return images * (levels * this.passesPerLevel * macs.main + 3 * lmSteps * macs.lm);
  }

  /** Releases every compiled graph. */
  async dispose(): Promise<void> {
    this.cache.clear();
    if (this.shared) {
      await this.shared.main.dispose();
      if (this.shared.lm && this.shared.lm !== this.shared.main) await this.shared.lm.dispose();
      this.shared = null;
    }
  }
}

/**
 * One classifier of a model (a factory used once).
 *
 * @example
 * const clf = openClassifier(readModelFolder('models/default'), engine, { defense: 'rdc', method: 'released' });
 */
export function openClassifier(model: ModelSource, engine: Engine, opts: ClassifierOptions): Classifier {
  return new ClassifierFactory(model, engine).get(opts);
}
