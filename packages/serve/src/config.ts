import { z } from 'zod';

/** `rdc serve` settings, with defaults (shared by the CLI and `createApp`). */
export const ServeConfig = z.object({
  port: z.number().int().min(0).max(65535).default(8080),
  host: z.string().default('0.0.0.0'),
  /** Jobs running at once (inference is CPU-bound; ONNX Runtime uses its own threads). */
  concurrency: z.number().int().positive().default(1),
  /** Jobs allowed to wait; beyond it the API answers 503 with Retry-After. */
  queueCapacity: z.number().int().nonnegative().default(16),
  /** Per-request time limit (queue wait + work). */
  timeoutMs: z.number().int().positive().default(120_000),
  /** Largest request body (bytes); larger ones get 413. */
  maxBodyBytes: z
    .number()
    .int()
    .positive()
    .default(8 * 1024 * 1024),
  maxBatch: z.number().int().positive().default(16),
});
export type ServeConfig = z.infer<typeof ServeConfig>;
