/**
 * A model behind the API, on ONNX Runtime alone: its verified folder (config.json and the card as
 * they were at start-up), its classifiers (core's `ClassifierFactory`: the DC and the RDC of a
 * diffusion model, the plain network of a CNN, one per option set), what it can run and its defaults.
 * The verbs (classify, attack, certify) are their own modules, each taking a `ServedModel`.
 *
 * @example
 * const model = await ServedModel.load('models/default', { threads: 2 });
 * const r = await classifyImage(model, pixels, { defense: 'rdc' });
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  argmax,
  classification,
  ClassifierFactory,
  guardLabel,
  guardStatus,
  InputError,
  isClassifierNetwork,
  modelCardSections,
  OrtEngine,
  Random,
  readModelFolder,
  resolveDeviceChoice,
  selectDevice,
  softmax,
  type ClassifierOptions,
  type ClassifyFields,
  type DefenseName,
  type ModelFolder,
} from '@rdc/core/runtime';
import type { z } from 'zod';
import { cardFiles } from './card-files.js';

/** What a classification request may set (core's `ClassifyFields`). */
export type RequestOptions = z.infer<typeof ClassifyFields>;

/** The figures `rdc eval --record` and `rdc attack --record` wrote into a model card, by section name. */
export function measuredSections(card: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(modelCardSections(card)).filter(([name]) => /^(eval|attack|certify)-.|^(robust-vs-eps|certified-vs-radius|learned-weights)$/.test(name)),
  );
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

export class ServedModel {
  readonly factory: ClassifierFactory;
  /** MODEL_CARD.md as it was verified at start-up (its sha256 is in config.json). */
  readonly card: string;
  /** The model's name: its folder's name. */
  readonly name: string;
  /** The files the card links (plots, sample grids), read at start-up: the page serves them, and nothing else of the folder. */
  readonly cardFiles: ReadonlyMap<string, { bytes: Buffer; type: string }>;

  private constructor(
    readonly model: ModelFolder,
    readonly engine: OrtEngine,
    name?: string,
  ) {
    // Every graph is compiled from the weights verified at start-up and held in memory, never read
    // again from the folder: an edit of the files after start changes nothing served.
    this.factory = new ClassifierFactory({ ...model, onnx: {} }, engine);
    this.card = readFileSync(join(model.dir, 'MODEL_CARD.md'), 'utf8');
    this.name = name ?? basename(model.dir);
    this.cardFiles = cardFiles(model.dir, this.card);
  }

  /** Loads a model folder onto ONNX Runtime; `device` as `--device` (default $RDC_DEVICE, then auto). */
  static async load(
    dir: string,
    opts: { threads?: number; device?: string; precision?: 'fp32' | 'fp16'; name?: string; engine?: OrtEngine } = {},
  ): Promise<ServedModel> {
    const engine =
      opts.engine ?? (await OrtEngine.create({ threads: opts.threads, device: selectDevice(resolveDeviceChoice(opts.device)), precision: opts.precision }));
    return new ServedModel(readModelFolder(dir), engine, opts.name);
  }

  get isCnn(): boolean {
    return isClassifierNetwork(this.model.config.network);
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
    return this.factory.defaultDefense;
  }
  /** Network passes per σ level of the DC (1 for a CNN's one pass). */
  get passesPerLevel(): number {
    return this.factory.passesPerLevel;
  }
  /** Multiply–accumulates of one pass per image of the model's network. */
  get macsPerPass(): number {
    return this.factory.macsPerPass().main;
  }
  /** Bytes of the values one pass per image computes (`activationBytes`): what a batch's memory budget divides by. */
  get activationBytes(): number {
    return this.factory.activationBytesPerPass();
  }
  get classes(): string[] {
    return this.model.config.classes;
  }
  get imageDims(): [number, number, number] {
    const { channels, height, width } = this.model.config.network.image;
    return [channels, height, width];
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
    if (this.isCnn) {
      for (const k of ['levels', 'weighting', 'method'] as const)
        if (opts[k] !== undefined) throw new InputError(`${k}: a CNN has no ${k === 'method' ? 'LM' : 'σ levels'}`, 'bad_options');
      return { defense };
    }
    if (defense === 'dc' && opts.method !== undefined) throw new InputError('method: the LM preset of the RDC; defense dc runs no LM', 'bad_options');
    const dc = { levels: opts.levels ?? this.model.config.dc.levels, ...(opts.weighting ? { weighting: opts.weighting } : {}) };
    return { defense, method: opts.method ?? this.model.config.lmMethod, dc };
  }

  /** Measured seconds per multiply–accumulate of this model's work (warm-up measures it first). */
  private secondsPerMac: number | null = null;

  /** Learns the model's speed from a job of `macs` that took `seconds`. */
  observe(macs: number, seconds: number): void {
    if (!(macs > 0 && seconds > 0)) return;
    const rate = seconds / macs;
    this.secondsPerMac = this.secondsPerMac === null ? rate : 0.7 * this.secondsPerMac + 0.3 * rate;
  }

  /** The estimated seconds of `macs` of this model's work (10 GMAC/s until measured). */
  estimateSeconds(macs: number): number {
    return macs * (this.secondsPerMac ?? 1e-10);
  }

  /** Loads every graph once so the first request is not slow (readiness), then measures the model's speed. */
  async warmUp(): Promise<void> {
    const [c, h, w] = this.imageDims;
    const x = { data: new Float32Array(c * h * w).fill(0.5), dims: [1, c, h, w] };
    const options = this.options({ levels: this.isCnn ? undefined : 2 });
    const clf = this.factory.get(options);
    await classification(clf, x, new Random(0));
    const t0 = performance.now();
    await classification(clf, x, new Random(1));
    this.observe(this.factory.cost(options, 1), (performance.now() - t0) / 1000);
  }

  /** The top class of logits, with its probability at the classifier's temperature. */
  top(logits: ArrayLike<number>, temperature: number) {
    const k = this.classes.length;
    const probs = softmax(
      Array.from(logits, (v) => v / temperature),
      k,
    );
    const i = argmax(logits, k)[0];
    return { index: i, label: this.classes[i], probability: probs[i], probabilities: probs };
  }

  /** A true class named by a request, as its index (null: none named); an unknown name is a 400. */
  labelIndex(label: string | undefined): number | null {
    if (label === undefined) return null;
    const i = this.classes.indexOf(label);
    if (i < 0) throw new InputError(`label ${JSON.stringify(label.slice(0, 64))}: not a class of ${this.name} (${this.classes.join(', ')})`, 'bad_options');
    return i;
  }

  /** The model's summary (GET /v1/models): its figures as data (each once, whichever sections state it) and its sections. */
  summary() {
    const once = <T extends { section: string }>(list: T[]) => {
      const seen = new Set<string>();
      return list
        .map(({ section: _, ...f }) => f)
        .filter((f) => {
          const key = JSON.stringify(f);
          return !seen.has(key) && seen.add(key);
        });
    };
    const { robust, certified } = this.model.config.measured;
    const { network } = this.model.config;
    return {
      name: this.name,
      arch: network.arch,
      title: (network.arch === 'imported' && network.name) || this.name,
      inputRange: network.arch === 'imported' ? network.inputRange : ([-1, 1] as [number, number]),
      defenses: this.defenses,
      defaultDefense: this.defaultDefense,
      classes: this.classes,
      guard: this.guard,
      description: cardDescription(this.card),
      measured: { robust: once(robust), certified: once(certified), sections: measuredSections(this.card) },
    };
  }
}
