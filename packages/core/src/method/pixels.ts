import { InputError } from '../errors.js';

/** Throws a clear error unless every pixel is a finite number in [0, 1]. */
export function checkPixels(p: ArrayLike<number>, what = 'pixels'): void {
  for (let i = 0; i < p.length; i++) {
    const v = p[i];
    if (!(v >= 0 && v <= 1)) {
      throw new InputError(
        `${what}: value ${v} at index ${i} is ${Number.isNaN(v) ? 'NaN' : 'outside [0, 1]'}; pixels must be finite numbers in [0, 1]`,
        'bad_pixels',
      );
    }
  }
}
