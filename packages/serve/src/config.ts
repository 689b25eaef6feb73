import { z } from 'zod';

/** `rdc serve` settings, with defaults (shared by the CLI and `createApp`). */
export const ServeConfig = z.object({
  port: z.number().int().min(0).max(65535).default(8080),
  /** The interface to listen on: loopback only by default; 0.0.0.0 in a container. */
  host: z.string().default('127.0.0.1'),
  /** Jobs running at once (inference is CPU-bound; ONNX Runtime uses its own threads). */
  concurrency: z.number().int().positive().default(1),
  /** Jobs allowed to wait; beyond it the API answers 503 with Retry-After. */
  queueCapacity: z.number().int().nonnegative().default(16),
  /** Time limit of one request, a batch included (queue wait + work); a timed-out job is cancelled. */
  timeoutMs: z.number().int().positive().default(120_000),
  /** Largest request body (bytes); larger ones get 413. */
  maxBodyBytes: z
    .number()
    .int()
    .positive()
    .default(8 * 1024 * 1024),
  maxBatch: z.number().int().positive().default(16),
  /**
   * Largest estimated work of one request, in multiply–accumulates (levels × images × passes per
   * level × MACs per pass); over it: 400. Null: a full batch at the model's default σ levels, with LM.
   */
  maxWorkMacs: z.number().positive().nullable().default(null),
  /** Time a client has to send its whole request (headers and body); then 408 and the connection is closed. */
  bodyTimeoutMs: z.number().int().positive().default(30_000),
  /** After SIGTERM: how long in-flight requests may take before open connections are closed. */
  drainTimeoutMs: z.number().int().nonnegative().default(30_000),
  /** Origins allowed to call the API from a browser ('*': any). Empty: cross-origin requests are refused. */
  cors: z.array(z.string()).default([]),
});
export type ServeConfig = z.infer<typeof ServeConfig>;
