/**
 * Shuffled epochs over a list of example indices, from its own seeded stream. Its state (the stream
 * at the start of the epoch and the position in it) restores the exact order after a resume.
 *
 * @example
 * const s = new EpochSampler(trainIdx, 0);
 * const batch = s.next(32);
 */
import { Random, type RandomState } from '@rdc/core';

export interface SamplerState {
  epoch: number;
  position: number;
  epochStart: RandomState;
}

export class EpochSampler {
  private rng: Random;
  private perm: Int32Array = new Int32Array(0);
  private epochStart!: RandomState;
  epoch = 0;
  position = 0;

  constructor(
    private readonly indices: Int32Array,
    seed: number,
    state?: SamplerState,
  ) {
    if (indices.length === 0) throw new Error('sampler: no training examples');
    if (state) {
      this.rng = Random.fromState(state.epochStart);
      this.startEpoch();
      this.epoch = state.epoch;
      this.position = state.position;
    } else {
      this.rng = new Random(seed);
      this.startEpoch();
    }
  }

  private startEpoch(): void {
    this.epochStart = this.rng.state();
    this.perm = this.rng.permutation(this.indices.length);
    this.position = 0;
  }

  /** The next `n` example indices (an epoch boundary starts a fresh shuffle). */
  next(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      if (this.position >= this.perm.length) {
        this.epoch++;
        this.startEpoch();
      }
      out[i] = this.indices[this.perm[this.position++]];
    }
    return out;
  }

  state(): SamplerState {
    return { epoch: this.epoch, position: this.position, epochStart: this.epochStart };
  }
}
