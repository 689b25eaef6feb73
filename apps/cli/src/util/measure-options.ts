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
import type { z } from 'zod';
import { parseOptions, schemaOptions, schemaValues } from './schema-options.js';

/** `--model DIR` (a model folder to read) and `--seed N`, for the commands that take them alone. */
export const ModelOption = MeasuredModel.pick({ model: true });
export const SeedOption = MeasuredModel.pick({ seed: true });

/** The DC settings a command line may override (the rest come from the model). */
const DC_FIELDS = ['levels', 'adaptive', 'grid', 'weighting', 'chunk', 'guidance'] as const;

type AnyCommand = Command<any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface MeasureShape {
  /** How many images a command takes by default. */
  limit: number;
  /** The DC fields it takes (default all of `DC_FIELDS`). */
  dc?: readonly (typeof DC_FIELDS)[number][];
  /** The model fields it takes (default all). */
  model?: readonly (keyof typeof MeasuredModel.shape)[];
}

const schemas = (o: MeasureShape) => [
  o.model ? MeasuredModel.pick(Object.fromEntries(o.model.map((k) => [k, true])) as Record<keyof typeof MeasuredModel.shape, true>) : MeasuredModel,
  ImageSelection.extend({ limit: ImageSelection.shape.limit.unwrap().default(o.limit) }),
  RuntimeOptions,
  PrecisionOptions,
  DataOptions,
  JsonOutput,
];

export function measureOptions<C extends AnyCommand>(cmd: C, o: MeasureShape): C {
  for (const schema of schemas(o)) schemaOptions(cmd, schema as z.ZodObject);
  if (o.dc?.length !== 0) schemaOptions(cmd, DcConfig, { pick: o.dc ?? DC_FIELDS, noDefaults: true });
  return cmd;
}

/** The shared options, parsed and validated (an invalid one is an InputError naming its flag). */
export function readMeasureOptions(raw: Record<string, unknown>, o: MeasureShape) {
  const parsed = Object.assign({}, ...schemas(o).map((schema) => parseOptions(raw, schema as z.ZodObject)));
  return {
    ...(parsed as MeasuredModel &
      z.infer<typeof ImageSelection> &
      RuntimeOptions &
      z.infer<typeof PrecisionOptions> &
      z.infer<typeof DataOptions> &
      z.infer<typeof JsonOutput>),
    /** The DC settings given (overrides of the model's). */
    dc: o.dc?.length === 0 ? {} : checkedDc(raw, o.dc ?? DC_FIELDS),
  };
}

function checkedDc(raw: Record<string, unknown>, pick: readonly string[]): Partial<Dc> {
  const given = schemaValues(raw, DcConfig, { pick });
  // Validated as a whole DC config (naming the flag on an error), then only the given fields kept.
  const parsed = parseOptions(raw, DcConfig, {}, { pick }) as Record<string, unknown>;
  return Object.fromEntries(Object.keys(given).map((k) => [k, parsed[k]])) as Partial<Dc>;
}
