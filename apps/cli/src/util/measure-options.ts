/**
 * The options every measuring command shares (eval, attack, certify): the model and defense, the
 * images and shards, the DC's σ grid, where networks run, the data and the JSON output. Declared
 * by core's schemas; each command adds its own on top.
 *
 * @example
 * measureOptions(new Command('eval'), { limit: 512 }).action((raw) => { const o = readMeasureOptions(raw); … });
 */
import type { Command } from '@commander-js/extra-typings';
import { DataOptions, DcConfig, ImageSelection, JsonOutput, MeasuredModel, PrecisionOptions, RuntimeOptions, type DcConfig as Dc } from '@rdc/core';
import { parseOptions, schemaOptions, schemaValues } from './schema-options.js';

/** The DC settings a command line may override (the rest come from the model). */
export const DC_FIELDS = ['levels', 'adaptive', 'grid', 'weighting', 'chunk', 'guidance'] as const;

type AnyCommand = Command<any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function measureOptions<C extends AnyCommand>(
  cmd: C,
  o: { limit: number; defense?: 'none' | 'dc' | 'rdc'; dc?: readonly (typeof DC_FIELDS)[number][] },
): C {
  schemaOptions(cmd, MeasuredModel.extend({ defense: MeasuredModel.shape.defense.unwrap().default(o.defense ?? 'dc') }));
  schemaOptions(cmd, ImageSelection.extend({ limit: ImageSelection.shape.limit.unwrap().default(o.limit) }));
  schemaOptions(cmd, DcConfig, { pick: o.dc ?? DC_FIELDS, noDefaults: true });
  schemaOptions(cmd, RuntimeOptions);
  schemaOptions(cmd, PrecisionOptions);
  schemaOptions(cmd, DataOptions);
  schemaOptions(cmd, JsonOutput);
  return cmd;
}

/** The shared options, parsed and validated (an invalid one is an InputError naming its flag). */
export function readMeasureOptions(
  raw: Record<string, unknown>,
  o: { limit: number; defense?: 'none' | 'dc' | 'rdc'; dc?: readonly (typeof DC_FIELDS)[number][] },
) {
  return {
    ...parseOptions(raw, MeasuredModel.extend({ defense: MeasuredModel.shape.defense.unwrap().default(o.defense ?? 'dc') })),
    ...parseOptions(raw, ImageSelection.extend({ limit: ImageSelection.shape.limit.unwrap().default(o.limit) })),
    ...parseOptions(raw, RuntimeOptions),
    ...parseOptions(raw, PrecisionOptions),
    ...parseOptions(raw, DataOptions),
    ...parseOptions(raw, JsonOutput),
    /** The DC settings given (overrides of the model's). */
    dc: checkedDc(raw, o.dc ?? DC_FIELDS),
  };
}

function checkedDc(raw: Record<string, unknown>, pick: readonly string[]): Partial<Dc> {
  const given = schemaValues(raw, DcConfig, { pick });
  // Validated as a whole DC config (naming the flag on an error), then only the given fields kept.
  const parsed = parseOptions(raw, DcConfig, {}, { pick }) as Record<string, unknown>;
  return Object.fromEntries(Object.keys(given).map((k) => [k, parsed[k]])) as Partial<Dc>;
}
