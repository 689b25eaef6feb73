import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';

type Generator = ReturnType<typeof xoroshiro128plus>;

const TWO_POW_32 = 4294967296;

/**
 * A seedable random stream (xoroshiro128+ from pure-rand) with the draws the method needs:
 * uniform floats and standard normals (Box–Muller, both values used). Its state can be saved and
 * restored exactly, which is what checkpoints and resumable runs rely on.
 *
 * @example
 * const rng = new Random(42);
 * const noise = rng.normal(3 * 32 * 32);
 */
export class Random {
  private gen: Generator;
  private spare: number | null = null;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new Error(`Random: seed must be an integer, got ${seed}`);
    // pure-rand's xoroshiro128plus(seed) starts from a nearly constant state for small seeds (its
    // first outputs are close to 2^32 − 1); fill the 128-bit state with hashed words instead.
    this.gen = xoroshiro128plusFromState(seedState(seed));
  }

  /** Restores a stream from `state()`. */
  static fromState(state: RandomState): Random {
    const r = new Random(0);
    r.gen = xoroshiro128plusFromState(state.gen);
    r.spare = state.spare;
    return r;
  }

  /** The exact state, JSON-serialisable. */
  state(): RandomState {
    return { gen: [...this.gen.getState()], spare: this.spare };
  }

  /** An independent stream: a copy of this one advanced by 2^64 draws (the generator's jump). */
  split(): Random {
    const r = new Random(0);
    const g = this.gen.clone() as Generator;
    g.jump();
    r.gen = g;
    // Advance this stream too so that successive splits are independent of each other.
    this.gen.jump();
    this.gen.jump();
    return r;
  }

  /** Uniform in [0, 1), 53 random bits. */
  uniform(): number {
    const hi = (this.gen.next() >>> 0) >>> 5; // 27 bits
    const lo = (this.gen.next() >>> 0) >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [a, b). */
  uniformIn(a: number, b: number): number {
    return a + (b - a) * this.uniform();
  }

  /** An integer uniform in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** One standard normal draw. */
  gaussian(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = ((this.gen.next() >>> 0) + 0.5) / TWO_POW_32;
    const v = (this.gen.next() >>> 0) / TWO_POW_32;
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** `n` standard normal draws into a new (or the given) buffer. */
  normal(n: number, out: Float32Array = new Float32Array(n)): Float32Array {
    for (let i = 0; i < n; i++) out[i] = this.gaussian();
    return out;
  }

  /** A random permutation of 0..n−1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}

/** Murmur3's 32-bit finaliser: a bijective avalanche mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** Four well-mixed 32-bit words from a seed (never all zero). */
export function seedState(seed: number): number[] {
  const hi = Math.floor(seed / 2 ** 32) | 0;
  const words = [0, 1, 2, 3].map((k) => fmix32(fmix32((seed | 0) + Math.imul(k + 1, 0x9e3779b9)) ^ fmix32(hi + k)));
  if (!words.some((w) => w !== 0)) words[0] = 1;
  return words;
}

/** The serialisable state of a `Random`. */
export interface RandomState {
  gen: number[];
  spare: number | null;
}
