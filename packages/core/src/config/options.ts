/**
 * The vocabulary option schemas use to describe a field's command-line spelling, beside its zod
 * type, bounds, default and description: the flag when it is not the field's name in kebab case,
 * and how to read values that are not plain numbers, words or lists. The CLI derives its options
 * from the schemas with it; the HTTP API and the model metadata use the same schemas.
 *
 * @example
 * timeoutMs: z.number().int().positive().default(120_000).describe('time limit of one request').meta(cli({ flag: '--timeout <duration>', parse: 'duration-ms' })),
 */

export interface CliMeta {
  /** The commander flag, e.g. '--attn <list>' (default: `--field-name <value>`). */
  flag?: string;
  /**
   * How to read the text: `duration` ('90s', '10m' → seconds), `duration-ms` (→ milliseconds),
   * `giga` (× 1e9), `fraction` ('8/255'), `fraction-list` ('2/255,4/255'), `zero-null` (0 → null:
   * off), `list` (comma-separated
   * words), `adaptive` (an optional α: a bare flag means the default).
   */
  parse?: 'duration' | 'duration-ms' | 'giga' | 'fraction' | 'fraction-list' | 'zero-null' | 'list' | 'adaptive';
  /** Not an option of the command line (set by other means). */
  hidden?: boolean;
}

/** Metadata for `.meta(...)`. */
export const cli = (m: CliMeta): { cli: CliMeta } => ({ cli: m });
