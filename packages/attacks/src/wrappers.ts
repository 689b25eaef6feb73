/**
 * Classifier wrappers usable with any attack:
 * - `EotClassifier`: Expectation over Transformation: averages k draws of the logits and of the
 *   loss gradient (each draw with fresh noise);
 * - `FixedNoiseClassifier`: the same noise on every call (a deterministic classifier), for
 *   score-based attacks such as Square that compare scores across queries; with `draws` = m > 1 it
 *   averages m fixed draws (EOT inside a search, so the search does not overfit one draw);
 * - `CancellableClassifier`: stops at the next query once a signal is aborted (a time limit).
 *
 * @example
 * const attacked = new EotClassifier(rdc, 4); // (the RDC's own gradient is BPDA through LM)
 */
import { Random, type Classifier, type Tensor } from '@rdc/core/runtime';

/** Passes the classifier's description through; subclasses change how it is queried. */
export abstract class WrappedClassifier implements Classifier {
  constructor(readonly inner: Classifier) {}
  get defense() {
    return this.inner.defense;
  }
  get numClasses() {
    return this.inner.numClasses;
  }
  get imageDims() {
    return this.inner.imageDims;
  }
  get temperature() {
    return this.inner.temperature;
  }
  get stochastic(): boolean {
    return this.inner.stochastic;
  }
  get settings(): Record<string, unknown> {
    return this.inner.settings;
  }
  abstract logits(pixels: Tensor, rng: Random): Promise<Tensor>;
  abstract gradient(pixels: Tensor, cotangent: (logits: Float32Array) => Float32Array, rng: Random): Promise<{ logits: Float32Array; grad: Tensor }>;
}

export class EotClassifier extends WrappedClassifier {
  constructor(
    inner: Classifier,
    readonly draws: number,
  ) {
    super(inner);
    if (!Number.isInteger(draws) || draws < 1) throw new Error(`EOT needs at least one draw, got ${draws}`);
  }
  override get settings() {
    return { ...this.inner.settings, eot: this.draws };
  }
  async logits(pixels: Tensor, rng: Random): Promise<Tensor> {
    let sum: Float32Array | null = null;
    let dims: readonly number[] = [];
    for (let i = 0; i < this.draws; i++) {
      const l = await this.inner.logits(pixels, rng);
      dims = l.dims;
      if (!sum) sum = Float32Array.from(l.data);
      else for (let j = 0; j < sum.length; j++) sum[j] += l.data[j];
    }
    return { data: sum!.map((v) => v / this.draws), dims };
  }
  async gradient(pixels: Tensor, cotangent: (logits: Float32Array) => Float32Array, rng: Random) {
    let grad: Float32Array | null = null;
    let logits: Float32Array | null = null;
    for (let i = 0; i < this.draws; i++) {
      const r = await this.inner.gradient(pixels, cotangent, rng);
      if (!grad || !logits) {
        grad = Float32Array.from(r.grad.data);
        logits = Float32Array.from(r.logits);
      } else {
        for (let j = 0; j < grad.length; j++) grad[j] += r.grad.data[j];
        for (let j = 0; j < logits.length; j++) logits[j] += r.logits[j];
      }
    }
    return { logits: logits!.map((v) => v / this.draws), grad: { data: grad!.map((v) => v / this.draws), dims: pixels.dims } };
  }
}

export class FixedNoiseClassifier extends WrappedClassifier {
  private readonly averaged: EotClassifier;
  constructor(
    inner: Classifier,
    readonly seed: number,
    readonly draws = 1,
  ) {
    super(inner);
    this.averaged = new EotClassifier(inner, draws);
  }
  override get stochastic() {
    return false;
  }
  override get settings() {
    return { ...this.inner.settings, fixedNoiseSeed: this.seed, fixedNoiseDraws: this.draws };
  }
  // Every call restarts the stream at `seed`: the same m draws each time.
  logits(pixels: Tensor): Promise<Tensor> {
    return this.averaged.logits(pixels, new Random(this.seed));
  }
  gradient(pixels: Tensor, cotangent: (logits: Float32Array) => Float32Array) {
    return this.averaged.gradient(pixels, cotangent, new Random(this.seed));
  }
}

/** Stops at the next query once `signal` is aborted (a server's time limit); passes it on to the classifier's forward passes. */
export class CancellableClassifier extends WrappedClassifier {
  constructor(
    inner: Classifier,
    readonly signal: AbortSignal,
  ) {
    super(inner);
  }
  logits(pixels: Tensor, rng: Random): Promise<Tensor> {
    this.signal.throwIfAborted();
    return this.inner.logits(pixels, rng, this.signal);
  }
  gradient(pixels: Tensor, cotangent: (logits: Float32Array) => Float32Array, rng: Random) {
    this.signal.throwIfAborted();
    return this.inner.gradient(pixels, cotangent, rng);
  }
}
