/**
 * Command-line options derived from core's option schemas (zod), so that a setting is declared once:
 * its name, type, choices, bounds, default and help text come from the schema the API and the model
 * metadata also use. `schemaOptions` adds one commander option per field; `parseOptions` reads the
 * given ones back (undefined when not given, so that the schema's default applies, or a resumed
 * run's recorded value) and validates them with the schema, naming the flag on an error (exit 2).
 *
 * A field's CLI spelling comes from its name (`emaHalflifeImages` → `--ema-halflife-images`) unless
 * its metadata names another (`.meta({ cli: { flag: '--ema-halflife <images>' } })`), with a
 * `parse` rule for values that are not plain numbers, words or lists (durations, GMAC, fractions).
 *
 * @example
 * schemaOptions(new Command('train'), TrainConfig, { omit: ['network'] });
 * const config = parseOptions(o, TrainConfig);
 */
import { Option, type Command } from '@commander-js/extra-typings';
import { DataOptions, InputError, JsonOutput, parseFraction, PrecisionOptions, RuntimeOptions, type CliMeta } from '@rdc/core';
import { z } from 'zod';
import { parseDuration, parseIntArg, parseIntList, parseNumber } from './parse.js';

type AnyCommand = Command<any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Fields = Record<string, z.ZodType>;

interface FieldInfo {
  key: string;
  flag: string;
  attribute: string;
  base: z.ZodType;
  optional: boolean;
  defaultValue: unknown;
  cli: CliMeta;
  description: string;
}

function camel(s: string): string {
  return s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** What a field is, beneath its default/optional/nullable wrappers. */
function fieldInfo(key: string, field: z.ZodType): FieldInfo {
  let t: z.ZodType = field;
  let defaultValue: unknown;
  let optional = false;
  const meta = (field.meta() ?? {}) as { cli?: CliMeta; description?: string };
  let description = meta.description ?? field.description ?? '';
  let cli = meta.cli ?? {};
  for (;;) {
    if (t instanceof z.ZodDefault) {
      defaultValue = t._zod.def.defaultValue;
      optional = true;
      t = t.unwrap() as z.ZodType;
    } else if (t instanceof z.ZodPrefault) {
      optional = true;
      t = t.unwrap() as z.ZodType;
    } else if (t instanceof z.ZodOptional || t instanceof z.ZodNullable) {
      optional = true;
      t = t.unwrap() as z.ZodType;
    } else break;
    const inner = (t.meta() ?? {}) as { cli?: CliMeta; description?: string };
    description ||= inner.description ?? t.description ?? '';
    cli = { ...inner.cli, ...cli };
  }
  const value = t instanceof z.ZodBoolean ? '' : t instanceof z.ZodArray ? ' <list>' : t instanceof z.ZodNumber ? ' <n>' : ' <value>';
  const negate = t instanceof z.ZodBoolean && defaultValue === true;
  const flag = cli.flag ?? `--${negate ? 'no-' : ''}${kebab(key)}${value}`;
  const long = /--(?:no-)?([a-z0-9-]+)/.exec(flag)![1];
  return { key, flag, attribute: camel(long), base: t, optional, defaultValue, cli, description };
}

function fields(schema: z.ZodObject, pick?: readonly string[], omit: readonly string[] = []): FieldInfo[] {
  const shape = schema.shape as Fields;
  const keys = (pick ?? Object.keys(shape)).filter((k) => !omit.includes(k));
  return keys.map((k) => {
    if (!shape[k]) throw new Error(`schema has no field '${k}'`);
    return fieldInfo(k, shape[k]);
  });
}

/** The commander value parser of a field. */
function valueParser(f: FieldInfo): ((v: string) => unknown) | undefined {
  switch (f.cli.parse) {
    case 'duration':
      return parseDuration;
    case 'duration-ms':
      return (v) => parseDuration(v) * 1000;
    case 'giga':
      return (v) => parseNumber(v) * 1e9;
    case 'fraction':
      return (v) => parseFraction(v);
    case 'fraction-list':
      return (v) =>
        v
          .split(',')
          .filter((x) => x.trim())
          .map((x) => parseFraction(x));
    case 'zero-null':
      return (v) => (parseNumber(v) === 0 ? null : parseNumber(v));
    case 'list':
      return (v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
    case 'adaptive':
      return parseNumber;
  }
  if (f.base instanceof z.ZodNumber) return f.base.isInt ? parseIntArg : parseNumber;
  if (f.base instanceof z.ZodArray) return f.base.element instanceof z.ZodNumber ? parseIntList : (v) => v.split(',').filter(Boolean);
  return undefined;
}

function helpText(f: FieldInfo, defaults = true): string {
  if (!defaults) return f.description || f.key;
  const shown =
    f.cli.parse === 'duration-ms' && typeof f.defaultValue === 'number' ? `${f.defaultValue / 1000}s` : f.cli.parse === 'giga' ? null : f.defaultValue;
  const dflt =
    shown === undefined || shown === null || (f.base instanceof z.ZodBoolean && shown === true) || (Array.isArray(shown) && shown.length === 0)
      ? ''
      : ` (default ${Array.isArray(shown) ? shown.join(',') : String(shown)})`;
  return `${f.description || f.key}${dflt}`;
}

/**
 * Adds an option for each field of `schema` (all, `pick`ed, or all but `omit`), without commander
 * defaults: a flag not given stays undefined and the schema decides.
 */
export function schemaOptions<C extends AnyCommand>(
  cmd: C,
  schema: z.ZodObject,
  opts: {
    pick?: readonly string[];
    omit?: readonly string[];
    /** Leave the schema's defaults out of the help (another source decides them, e.g. a size preset). */ noDefaults?: boolean;
  } = {},
): C {
  for (const f of fields(schema, opts.pick, opts.omit)) {
    if (f.cli.hidden) continue;
    const option = new Option(f.flag, helpText(f, !opts.noDefaults));
    if (f.base instanceof z.ZodEnum) option.choices(f.base.options as string[]);
    if (!f.optional) option.makeOptionMandatory(true);
    const parse = valueParser(f);
    if (parse) option.argParser(parse);
    cmd.addOption(option as never);
  }
  return cmd;
}

/** The given values of the schema's fields, keyed as the schema names them (the rest left out). */
export function schemaValues(
  o: Record<string, unknown>,
  schema: z.ZodObject,
  opts: { pick?: readonly string[]; omit?: readonly string[] } = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields(schema, opts.pick, opts.omit)) {
    let v = o[f.attribute];
    // A negatable flag (--no-flip) reads true when not given: only its negation is a given value.
    if (v === undefined || (f.flag.startsWith('--no-') && v === true)) continue;
    if (f.cli.parse === 'adaptive') v = { alpha: v === true ? 0.01 : v };
    out[f.key] = v;
  }
  return out;
}

/** zod issues as one message naming each flag (`--limit: must be at least 1`). */
function optionError(error: z.ZodError, schema: z.ZodObject): InputError {
  const flags = new Map(fields(schema).map((f) => [f.key, f.flag.split(' ')[0]]));
  const text = error.issues
    .slice(0, 4)
    .map((i) => `${flags.get(String(i.path[0])) ?? i.path.join('.')}: ${i.message}`)
    .join('; ');
  return new InputError(text, 'bad_option');
}

/**
 * The given options parsed by the schema (defaults filled in), over `base` values (a resumed
 * run's recorded settings); an invalid value is an InputError naming its flag.
 */
export function parseOptions<S extends z.ZodObject>(
  o: Record<string, unknown>,
  schema: S,
  base: Record<string, unknown> = {},
  opts: { pick?: readonly string[]; omit?: readonly string[] } = {},
): z.infer<S> {
  const r = schema.safeParse({ ...base, ...schemaValues(o, schema, opts) });
  if (!r.success) throw optionError(r.error, schema);
  return r.data;
}

type Shared = 'runtime' | 'ort' | 'precision' | 'data' | 'json';
const SHARED_SCHEMAS = { runtime: RuntimeOptions, precision: PrecisionOptions, data: DataOptions, json: JsonOutput } as const;

/**
 * Adds the options most commands share, from core's schemas: `runtime` (engine, device, threads),
 * `ort` (device and threads: ONNX Runtime only), `precision`, `data` (--data-dir), `json`.
 */
export function sharedOptions<C extends AnyCommand>(cmd: C, which: readonly Shared[]): C {
  for (const w of which) {
    if (w === 'ort') schemaOptions(cmd, RuntimeOptions, { pick: ['device', 'threads'] });
    else schemaOptions(cmd, SHARED_SCHEMAS[w]);
  }
  return cmd;
}

/** The shared options, parsed (undefined where not given: the environment or a default decides). */
export function readShared(o: object): RuntimeOptions & z.infer<typeof PrecisionOptions> & z.infer<typeof DataOptions> & z.infer<typeof JsonOutput> {
  const raw = o as Record<string, unknown>;
  return {
    ...parseOptions(raw, RuntimeOptions.partial()),
    ...parseOptions(raw, PrecisionOptions),
    ...parseOptions(raw, DataOptions),
    ...parseOptions(raw, JsonOutput),
  };
}
