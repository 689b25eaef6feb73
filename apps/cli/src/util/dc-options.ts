import { Option, type Command } from '@commander-js/extra-typings';
import type { DcConfig } from '@rdc/core';
import { parseIntArg, parseNumber } from './parse.js';

/** The DC options of eval (each overrides the model's default). */
export function dcOptions(cmd: Command) {
  return cmd
    .option('--levels <n>', "σ levels of the DC (default: the model's, 125)", parseIntArg)
    .option(
      '--adaptive [alpha]',
      'adaptive σ evaluation: levels in a fixed random order, 5 at a time, stopping once the leading class is safe at level alpha (default 0.01); predictions only',
      parseNumber,
    )
    .addOption(new Option('--grid <kind>', 'σ grid').choices(['linear', 'log'] as const))
    .addOption(new Option('--weighting <kind>', 'σ weights').choices(['released', 'lognormal', 'uniform'] as const))
    .option('--chunk <n>', 'σ levels per network batch', parseIntArg)
    .option('--guidance <w>', 'guidance weight w on the class heads', parseNumber);
}

export function dcOverrides(o: {
  adaptive?: true | number;
  levels?: number;
  grid?: 'linear' | 'log';
  weighting?: 'released' | 'lognormal' | 'uniform';
  chunk?: number;
  guidance?: number;
}): Partial<DcConfig> {
  return Object.fromEntries(
    Object.entries({
      levels: o.levels,
      grid: o.grid,
      weighting: o.weighting,
      chunk: o.chunk,
      guidance: o.guidance,
      adaptive: o.adaptive === undefined ? undefined : { alpha: o.adaptive === true ? 0.01 : o.adaptive, chunk: 5, minUnits: 3 },
    }).filter(([, v]) => v !== undefined),
  );
}
