/**
 * A model behind the API, on ONNX Runtime alone: its verified folder (config.json and the card as
 * they were at start-up), its classifiers (core's `ClassifierFactory`: the DC and the RDC of a
 * diffusion model, the plain network of a CNN, one per option set), what a request costs, and one
 * classification as the API answers it.
 *
 * @example
 * const svc = await InferenceService.load('models/default', { threads: 2 });
 * const r = await svc.classify(pixels, { defense: 'rdc' });
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  argmax,
  certify,
  classification,
  ClassifierFactory,
  guardLabel,
  guardStatus,
  InputError,
  MAX_SEED,
  modelCardSections,
  OrtEngine,
  Random,
  readModelFolder,
  resolveDeviceChoice,
  selectDevice,
  softmax,
  type CertifyOptions,
  type ClassifierOptions,
  type ClassifyFields,
  type DefenseName,
  type ModelFolder,
  type Tensor,
} from '@rdc/core/runtime';
import type { z } from 'zod';
import { attackOneImage, CancellableClassifier, DEFAULT_EPS } from '@rdc/attacks';
import {
  MAX_ATTACK_EPS,
  type AttackFields,
  type AttackProgress,
  type AttackResult,
  type CertifyFields,
  type CertifyResult,
  type ClassifyResult,
} from './routes/contract.js';
import { pngDataUrl, visibleChange } from './image.js';

/** What a request may set (core's `ClassifyFields`). */
export type RequestOptions = z.infer<typeof ClassifyFields>;
/** What a certification request may set (the contract's `CertifyFields`). */
export type CertifyRequest = z.infer<typeof CertifyFields>;

/** What an attack request may set (the contract's `AttackFields`). */
export type AttackRequest = z.infer<typeof AttackFields>;
/** An attack's settings with the API's defaults. */
export type AttackSettings = ReturnType<InferenceService['attackSettings']>;

/** The σ levels of an attack that names none: few enough that the page's default attack fits the default work cap and timeout. */
export const ATTACK_LEVELS = 10;

/** The figures `rdc eval --record` and `rdc attack --record` wrote into a model card, by section name. */
export function measuredSections(card: string): Record<string, string> {
  return Object.fromEntries(Object.entries(modelCardSections(card)).filter(([name]) => /^(eval|attack|certify)-./.test(name)));
}

/** The card's first paragraph of prose (what the model is), Markdown as written, at most 600 characters. */
export function cardDescription(card: string): string {
  const prose = card
    .replace(/<!--[\s\S]*?-->/g, '')
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .find((p) => p && !p.startsWith('#') && !p.startsWith('**Warning') && !p.startsWith('-') && !p.startsWith('|'));
  return (prose ?? '').slice(0, 600);
}

export class InferenceService {
  readonly factory: ClassifierFactory;
  /** MODEL_CARD.md as it was verified at start-up (its sha256 is in config.json). */
  readonly card: string;
  /** The model's name: its folder's name. */
  readonly name: string;

  private constructor(
    readonly model: ModelFolder,
    readonly engine: OrtEngine,
    name?: string,
  ) {
    this.factory = new ClassifierFactory(model, engine);
    this.card = readFileSync(join(model.dir, 'MODEL_CARD.md'), 'utf8');
    this.name = name ?? basename(model.dir);
  }

  /** Loads a model folder onto ONNX Runtime; `device` as `--device` (default $RDC_DEVICE, then auto). */
  static async load(
    dir: string,
    opts: { threads?: number; device?: string; precision?: 'fp32' | 'fp16'; name?: string; engine?: OrtEngine } = {},
  ): Promise<InferenceService> {
    const engine =
      opts.engine ?? (await OrtEngine.create({ threads: opts.threads, device: selectDevice(resolveDeviceChoice(opts.device)), precision: opts.precision }));
    return new InferenceService(readModelFolder(dir), engine, opts.name);
  }

  get isCnn(): boolean {
    return this.model.config.network.arch === 'cnn';
  }
  /** Whether the model can run the RDC (it has an unconditional network or head for LM). */
  get hasLm(): boolean {
    return this.factory.hasLm;
  }
  /** What the model can run. */
  get defenses(): DefenseName[] {
    return this.isCnn ? ['none'] : this.hasLm ? ['dc', 'rdc'] : ['dc'];
  }
  /** The defense of a request that names none. */
  get defaultDefense(): DefenseName {
    return this.isCnn ? 'none' : this.hasLm ? 'rdc' : 'dc';
  }
  /** Network passes per σ level of the DC (1 for a CNN's one pass). */
  get passesPerLevel(): number {
    return this.factory.passesPerLevel;
  }
  /** Multiply–accumulates of one pass per image of the model's network. */
  get macsPerPass(): number {
    return this.factory.macsPerPass().main;
  }
  get classes(): string[] {
    return this.model.config.classes;
  }
  get imageDims(): [number, number, number] {
    const { channels, height, width } = this.model.config.network.image;
    return [channels, height, width];
  }
  get temperature(): number {
    return this.model.config.temperature ?? 1;
  }
  /** The generative guard's verdict and label (core's `guardStatus`). */
  get guard() {
    return { status: guardStatus(this.model.config), label: guardLabel(this.model.config) };
  }

  /** The classifier options of a request, with the model's defaults; an option the model cannot run is a 400. */
  options(opts: RequestOptions): ClassifierOptions {
    const defense = opts.defense ?? this.defaultDefense;
    if (!this.defenses.includes(defense)) {
      const why = this.isCnn
        ? 'a CNN has no diffusion classifier: use defense none'
        : defense === 'none'
          ? 'a diffusion model needs defense dc or rdc'
          : 'this model has no unconditional network for LM: use defense dc';
      throw new InputError(`defense ${defense}: ${why} (this model runs ${this.defenses.join(', ')})`, 'bad_defense');
    }
    if (this.isCnn && opts.levels !== undefined) throw new InputError('levels: a CNN has no σ levels', 'bad_options');
    return this.isCnn
      ? { defense }
      : { defense, method: opts.method ?? this.model.config.lmMethod, dc: { levels: opts.levels ?? this.model.config.dc.levels } };
  }

  /** The estimated work of classifying `images` images with these options, in multiply–accumulates (`ClassifierFactory.cost`). */
  cost(opts: RequestOptions, images: number): number {
    return this.factory.cost(this.options(opts), images);
  }

  /** Loads every graph once so the first request is not slow (readiness). */
  async warmUp(): Promise<void> {
    const [c, h, w] = this.imageDims;
    const x = { data: new Float32Array(c * h * w).fill(0.5), dims: [1, c, h, w] };
    await this.classify(x, { defense: this.defaultDefense, levels: this.isCnn ? undefined : 2, seed: 0 });
  }

  /** Classifies one image [1, C, H, W] of pixels in [0, 1]; an aborted `signal` stops it at the next σ chunk or LM step. */
  async classify(pixels: Tensor, opts: RequestOptions, signal?: AbortSignal): Promise<ClassifyResult> {
    const options = this.options(opts);
    const seed = opts.seed ?? randomInt(MAX_SEED);
    const clf = this.factory.get(options);
    const { logits: out, purified, timings } = await classification(clf, pixels, new Random(seed), signal);
    const logits = out.data;
    const k = this.classes.length;
    const probs = softmax(
      logits.map((v) => v / this.temperature),
      k,
    );
    const top = argmax(logits, k)[0];
    const dc = options.dc ? { ...this.model.config.dc, ...options.dc } : null;
    return {
      model: this.name,
      top: { index: top, label: this.classes[top], probability: probs[top] },
      probabilities: this.classes.map((label, i) => ({ label, probability: probs[i] })),
      logits: Array.from(logits),
      options: {
        defense: options.defense,
        method: options.defense === 'rdc' ? options.method : undefined,
        levels: dc?.levels,
        seed,
        temperature: this.temperature,
        grid: dc?.grid,
        weighting: dc?.weighting,
      },
      timings,
      ...(opts.explain ? { explain: await explainOf(pixels, purified) } : {}),
    };
  }

  /** Certification settings of a request, with the API's defaults (they fit the default work cap). */
  certifyOptions(o: CertifyRequest): CertifyOptions {
    const base = o.base ?? (this.isCnn ? 'none' : this.hasLm ? 'apndc' : 'dc');
    if (this.isCnn !== (base === 'none'))
      throw new InputError(
        `base ${base}: ${this.isCnn ? 'a CNN is certified with base none' : 'a diffusion model is certified with base dc, apndc or epndc'}`,
        'bad_defense',
      );
    if (this.isCnn && o.levels !== undefined) throw new InputError('levels: a CNN has no σ levels', 'bad_options');
    const n0 = o.n0 ?? 20;
    const n = o.n ?? 100;
    if (n0 > n) throw new InputError(`n0 ${n0} is more than n ${n}: the estimation draws should outnumber the selection draws`, 'bad_options');
    return { base, sigma: o.sigma ?? 0.25, n0, n, alpha: o.alpha ?? 0.001, levels: base === 'none' ? undefined : (o.levels ?? 10), batch: 32 };
  }

  /** The estimated work of a certification: every draw's network passes × MACs per pass. */
  certifyCost(o: CertifyOptions): number {
    const base = this.factory.smoothingBase(o.base, { sigma: o.sigma, levels: o.levels });
    return (o.n0 + o.n) * base.passesPerDraw * this.macsPerPass;
  }

  /** A certification request's work (MACs) and what it is, in words (for the work limit's refusal). */
  certifyWork(req: CertifyRequest): [number, string] {
    const o = this.certifyOptions(req);
    return [this.certifyCost(o), `${o.n0} + ${o.n} draws × ${o.base === 'none' ? 1 : `${o.levels} σ levels`} network passes`];
  }

  /** Certifies one image [1, C, H, W] by randomized smoothing; an aborted `signal` stops it at the next batch of draws. */
  async certify(pixels: Tensor, req: CertifyRequest, signal?: AbortSignal): Promise<Omit<CertifyResult, 'timings'>> {
    const o = this.certifyOptions(req);
    const seed = req.seed ?? randomInt(MAX_SEED);
    const base = this.factory.smoothingBase(o.base, { sigma: o.sigma, levels: o.levels });
    const c = await certify(base, pixels, o, new Random(seed), signal);
    return {
      model: this.name,
      prediction: c.prediction,
      label: c.prediction >= 0 ? this.classes[c.prediction] : null,
      radius: c.radius,
      pALower: c.pALower,
      nA: c.nA,
      n: c.n,
      n0: o.n0,
      sigma: o.sigma,
      alpha: o.alpha,
      base: o.base,
      levels: o.levels ?? null,
      seed,
    };
  }

  /** An attack's settings, with the API's defaults; ε past the norm's limit, or more σ levels than the model's, is a 400. */
  attackSettings(o: AttackRequest) {
    const own = this.model.config.dc.levels;
    if (!this.isCnn && o.levels !== undefined && o.levels > own) throw new InputError(`levels ${o.levels}: at most the model's own ${own}`, 'bad_options');
    const classifier = this.options({ defense: o.defense, method: o.method, levels: this.isCnn ? o.levels : (o.levels ?? Math.min(ATTACK_LEVELS, own)) });
    const norm = o.norm ?? 'linf';
    const eps = o.eps ?? DEFAULT_EPS[norm];
    if (eps > MAX_ATTACK_EPS[norm] + 1e-9)
      throw new InputError(`eps ${eps}: at most ${norm === 'linf' ? '16/255' : MAX_ATTACK_EPS.l2} for ${norm}`, 'bad_options');
    return {
      classifier,
      norm,
      eps,
      attack: o.attack ?? 'apgd-ce',
      iterations: o.iterations ?? 10,
      eot: o.eot ?? 1,
      recheck: o.recheck ?? 5,
      rule: o.rule ?? 'majority',
    };
  }

  /**
   * The estimated work of an attack: each gradient ≈ 3 forward passes (iterations + 1, × EOT), up to
   * 3 confirmation draws per iteration on a randomized classifier, and the 2k re-checks.
   */
  attackCost(s: AttackSettings): number {
    const forward = this.factory.cost(s.classifier, 1);
    const stochastic = s.classifier.defense !== 'none';
    return forward * (3 * (s.iterations + 1) * s.eot + (stochastic ? 3 * s.iterations : 0) + 2 * s.recheck);
  }

  /** An attack request's work (MACs) and what it is, in words (for the work limit's refusal). */
  attackWork(req: AttackRequest): [number, string] {
    const s = this.attackSettings(req);
    const levels = s.classifier.dc ? `${s.classifier.dc.levels} σ levels × ${this.passesPerLevel} passes` : 'one pass';
    return [
      this.attackCost(s),
      `${s.iterations} iterations × ${s.eot} EOT draws of a gradient (≈ 3 forward passes of ${levels}), plus ${2 * s.recheck} re-checks`,
    ];
  }

  /**
   * Attacks one image [1, C, H, W] (the clean answer, not a label): the adversarial 8-bit image and
   * both answers from k fresh draws, each draw with its own seed (given: a classification with that
   * seed repeats it). `onProgress` after every iteration; an aborted `signal` stops it at the next query.
   */
  async attack(
    pixels: Tensor,
    req: AttackRequest,
    signal: AbortSignal,
    onProgress?: (p: z.infer<typeof AttackProgress>) => void,
  ): Promise<Omit<AttackResult, 'timings'>> {
    const s = this.attackSettings(req);
    const seed = req.seed ?? randomInt(MAX_SEED);
    const clf = this.factory.get(s.classifier);
    const seeds = { clean: [] as number[], adversarial: [] as number[] };
    const rng = new Random(seed);
    // The re-checks' seeds: a stream of their own, apart from the attack's.
    const seedRng = rng.split();
    const r = await attackOneImage({
      classifier: new CancellableClassifier(clf, signal),
      x0: pixels.data,
      attack: s.attack,
      iterations: s.iterations,
      threat: { norm: s.norm, eps: s.eps },
      eot: s.eot,
      recheck: s.recheck,
      rule: s.rule,
      rng,
      drawRng: (image, i) => {
        const list = seeds[image];
        // Deterministic classifiers take one draw, repeated.
        while (list.length <= i) list.push(seedRng.int(MAX_SEED));
        return new Random(list[i]);
      },
      onIteration: (i, loss, logits) => onProgress?.({ iteration: i, iterations: s.iterations, loss, answer: logits ? this.top(logits) : null }),
    });
    const change = await visibleChange(r.adv, r.x0, pixels.dims);
    const answer = (a: typeof r.clean, list: number[]) => ({
      top: { index: a.top, label: this.classes[a.top], probability: a.probability },
      draws: a.draws,
      seeds: a.draws.map((_, i) => list[Math.min(i, list.length - 1)]),
    });
    return {
      model: this.name,
      defense: s.classifier.defense,
      options: {
        norm: s.norm,
        eps: s.eps,
        attack: s.attack,
        iterations: s.iterations,
        levels: s.classifier.dc?.levels ?? null,
        eot: s.eot,
        recheck: s.recheck,
        rule: s.rule,
        seed,
      },
      input: await pngDataUrl({ data: r.x0, dims: pixels.dims }),
      adversarial: {
        image: await pngDataUrl({ data: r.adv, dims: pixels.dims }),
        linf: r.linf,
        l2: r.l2,
        perturbation: change.image,
        perturbationGain: change.gain,
      },
      clean: answer(r.clean, seeds.clean),
      attacked: answer(r.attacked, seeds.adversarial),
      changed: r.changed,
      iterations: r.iterations,
      queries: r.queries,
      found: r.found,
    };
  }

  /** The top class of logits, with its probability at the model's temperature. */
  private top(logits: Float32Array) {
    const probs = softmax(
      Array.from(logits, (v) => v / this.temperature),
      this.classes.length,
    );
    const i = argmax(logits, this.classes.length)[0];
    return { index: i, label: this.classes[i], probability: probs[i] };
  }

  /** The model's summary (GET /v1/models) and, with `full`, its config, card and the server's limits. */
  summary() {
    return {
      name: this.name,
      arch: this.model.config.network.arch,
      defenses: this.defenses,
      defaultDefense: this.defaultDefense,
      classes: this.classes,
      guard: this.guard,
      description: cardDescription(this.card),
      measured: measuredSections(this.card),
    };
  }
}

/** The input as the model saw it, and for the RDC LM's output and its perturbation (made visible). */
async function explainOf(pixels: Tensor, purified?: Tensor): Promise<NonNullable<ClassifyResult['explain']>> {
  const explain: NonNullable<ClassifyResult['explain']> = { input: await pngDataUrl(pixels) };
  if (purified) {
    const change = await visibleChange(purified.data, pixels.data, pixels.dims);
    explain.lm = await pngDataUrl(purified);
    explain.perturbation = change.image;
    explain.perturbationGain = change.gain;
    explain.perturbationLinf = change.linf;
    explain.perturbationL2 = change.l2;
  }
  return explain;
}
