/**
 * Per-level denoising errors as data (`rdc eval --dump-levels FILE`, `rdc fit-weights`): one JSON
 * line per image, `{ index, label, levels, seed, errors }` with `errors` the classes × levels matrix
 * (row-major, unweighted; the DC's logits are −errors·w for any weights w), drawn with the image's
 * own seed (`imageSeed`), so that a dump resumes, and the DC's logits of `rdc eval` are these
 * errors under the model's weights.
 *
 * @example
 * const dump = new LevelDump('runs/levels-25.jsonl', dc, 0);
 * const rec = await dump.get(index, label, pixels);
 */
import { InputError, Random, type DiffusionClassifier, type Tensor } from '@rdc/core';
import { imageSeed, JsonlLog } from '@rdc/attacks';

export interface LevelRecord {
  index: number;
  label: number;
  levels: number;
  seed: number;
  errors: number[];
}

export class LevelDump {
  private readonly log: JsonlLog<LevelRecord>;
  private readonly done: Map<number, LevelRecord>;

  constructor(
    readonly path: string,
    readonly dc: DiffusionClassifier,
    readonly seed: number,
  ) {
    this.log = new JsonlLog<LevelRecord>(path);
    this.done = this.log.read();
    const levels = dc.sigmas.length;
    for (const rec of this.done.values())
      if (rec.levels !== levels || rec.seed !== seed)
        throw new InputError(
          `${path} holds per-level errors at ${rec.levels} levels with seed ${rec.seed}, not ${levels} with seed ${seed}: give another file`,
          'bad_option',
        );
  }

  /** Whether image `index` is already in the dump. */
  has(index: number): boolean {
    return this.done.has(index);
  }

  /** Image `index`'s record: from the dump, or computed now and appended. */
  async get(index: number, label: number, pixels: Tensor): Promise<LevelRecord> {
    let rec = this.done.get(index);
    if (!rec) {
      const errors = await this.dc.levelErrorsOf(pixels, new Random(imageSeed(this.seed, index)));
      rec = { index, label, levels: this.dc.sigmas.length, seed: this.seed, errors: Array.from(errors, (v) => Number(v.toPrecision(8))) };
      this.log.append(rec);
      this.done.set(index, rec);
    }
    return rec;
  }
}
