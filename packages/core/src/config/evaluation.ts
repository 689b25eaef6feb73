/**
 * Which images a measurement runs on (eval, attack, certify): the split, the first `limit` images,
 * a range or a list, and this process's shard of them; and the model and defense it measures.
 *
 * @example
 * const sel = ImageSelection.parse({ limit: 100 });
 */
import { z } from 'zod';
import { cli } from './options.js';
import { DefenseName, MethodName } from './schema.js';

export const ImageSelection = z.object({
  split: z
    .enum(['test', 'val'])
    .default('test')
    .describe("test: the CIFAR-10 test batch (for reporting); val: the model's held-out training images (for choosing settings)"),
  limit: z.number().int().positive().default(512).describe('number of images (from the first)'),
  range: z
    .string()
    .regex(/^\d+:\d+$/, 'expected BEGIN:END, e.g. 0:100')
    .optional()
    .describe('images BEGIN to END-1 of the split instead of the first --limit')
    .meta(cli({ flag: '--range <begin:end>' })),
  images: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'expected dataset indices separated by commas, e.g. 3,7,12')
    .optional()
    .describe('these images of the split (dataset indices, e.g. 3,7,12: the images one run found robust) instead of the first --limit')
    .meta(cli({ flag: '--images <list>' })),
  shard: z
    .string()
    .regex(/^\d+\/\d+$/, 'expected I/N, e.g. 2/8')
    .optional()
    .describe('take shard I of N (1-based) of the selected images; merge the shards with rdc merge')
    .meta(cli({ flag: '--shard <I/N>' })),
  shards: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('shard count for a Kubernetes Indexed Job (the index comes from JOB_COMPLETION_INDEX); Slurm arrays need neither (SLURM_ARRAY_TASK_ID/COUNT)'),
});
export type ImageSelection = z.infer<typeof ImageSelection>;

/** The model and what of it is measured. */
export const MeasuredModel = z.object({
  model: z
    .string()
    .describe('model folder')
    .meta(cli({ flag: '--model <dir>' })),
  defense: DefenseName.optional().describe(
    "what to evaluate: the plain network (a CNN), the DC or the RDC (default: the model's own: none for a CNN or an imported classifier, rdc for a diffusion model with LM, else dc)",
  ),
  method: MethodName.optional().describe("LM preset of the RDC (default: the model's)"),
  seed: z.number().int().nonnegative().default(0).describe('seed of the noise'),
});
export type MeasuredModel = z.infer<typeof MeasuredModel>;
