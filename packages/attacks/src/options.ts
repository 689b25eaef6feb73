/**
 * What an attack run may be told: the protocol and its overrides, the threat model, the RDC's
 * gradient, the sweep and the sanity checks, each declared once here (`AttackFields`); `rdc attack`
 * derives its options from `AttackOptions`, and the one-image attack of the API picks its fields
 * (`OneImageFields`, one-image.ts).
 *
 * @example
 * const o = AttackOptions.parse({ protocol: 'quick', eps: 4 / 255 });
 */
import { cli, GradientMode, NormName, SigmaLevels } from '@rdc/core/runtime';
import { z } from 'zod';
import { AttackName } from './attack.js';
import { RecheckRule } from './eval/rules.js';
import { Protocol } from './protocol.js';

export const AttackFields = z.object({
  protocol: Protocol.shape.name.default('quick').describe('attack budget (see docs/method.md)'),
  attacks: z
    .array(AttackName)
    .min(1)
    .optional()
    .describe(`comma-separated: ${AttackName.options.join(', ')} (default: the protocol's)`)
    .meta(cli({ flag: '--attacks <list>', parse: 'list' })),
  norm: NormName.default('linf').describe('threat model: ℓ∞ or ℓ2'),
  eps: z
    .number()
    .positive()
    .optional()
    .describe('radius in pixel units, e.g. 8/255 (default 8/255 for linf, 0.5 for l2)')
    .meta(cli({ parse: 'fraction' })),
  iterations: z.number().int().positive().optional().describe("gradient attack iterations (default: the protocol's)"),
  restarts: z.number().int().positive().optional().describe('restarts'),
  queries: z.number().int().positive().optional().describe('Square query budget'),
  eot: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('gradient draws averaged per step (EOT)')
    .meta(cli({ flag: '--eot <k>' })),
  recheck: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('fresh re-classifications of each clean and adversarial image (the report gives the first, the majority, all and the mean of them)')
    .meta(cli({ flag: '--recheck <k>' })),
  rule: RecheckRule.optional().describe("the headline re-check rule (default: the protocol's)"),
  confirm: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('fresh draws that must all misclassify an iterate before an attack may stop early (default 3 on the DC/RDC, 1 on a plain network; 0: never)')
    .meta(cli({ flag: '--confirm <k>' })),
  squareDraws: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('Square: average each query over m fixed noise draws (EOT inside the search; default 1)')
    .meta(cli({ flag: '--square-draws <m>' })),
  levels: SigmaLevels.optional().describe("σ levels of the DC (default: the protocol's)"),
  gradient: GradientMode.default('bpda').describe(
    "RDC gradient: the exact DC gradient with LM by BPDA (the authors' setting), or full differentiation through the LM steps",
  ),
  sweep: z
    .array(z.number().positive())
    .optional()
    .describe('also evaluate at these radii and plot robust accuracy against ε, e.g. 2/255,4/255,8/255')
    .meta(cli({ flag: '--sweep <list>', parse: 'fraction-list' })),
  sanity: z.boolean().optional().describe('run the adaptive-attack sanity checks and print them in the report'),
  sanityImages: z.number().int().positive().default(8).describe('images for the sanity checks'),
  out: z
    .string()
    .optional()
    .describe('report folder (re-running with the same folder resumes)')
    .meta(cli({ flag: '--out <dir>' })),
  record: z
    .boolean()
    .optional()
    .describe("write the headline (clean, worst case and null attack, with the budget and re-check rule) into the model's MODEL_CARD.md"),
});

/** An ℓ∞ radius past the pixel range is a radius given in 0–255 units by mistake. */
export function checkLinfRadius(o: { norm?: string; eps?: number; sweep?: number[] }, ctx: z.RefinementCtx): void {
  for (const [path, e] of [
    ['eps', o.eps],
    ['sweep', Math.max(0, ...(o.sweep ?? []))],
  ] as const)
    if (o.norm === 'linf' && e !== undefined && e > 1)
      ctx.addIssue({
        code: 'custom',
        path: [path],
        message: `an ℓ∞ radius of ${e.toFixed(3)} is larger than the pixel range [0, 1]: give it in pixel units, e.g. 8/255`,
      });
}

export const AttackOptions = AttackFields.superRefine(checkLinfRadius);
export type AttackOptions = z.infer<typeof AttackOptions>;
