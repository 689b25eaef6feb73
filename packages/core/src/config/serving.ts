/**
 * `rdc serve` settings, with defaults: the CLI derives its options from this schema and the server
 * (`createApp`, `startServer`) parses its settings with it.
 *
 * @example
 * const cfg = ServeConfig.parse({ port: 0, maxBatch: 4 });
 */
import { z } from 'zod';
import { cli } from './options.js';

export const ServeConfig = z.object({
  port: z.number().int().min(0).max(65535).default(8080).describe('port'),
  /** The interface to listen on: loopback only by default; 0.0.0.0 in a container. */
  host: z
    .string()
    .default('127.0.0.1')
    .describe('interface to listen on (0.0.0.0 in a container)')
    .meta(cli({ flag: '--host <host>' })),
  /** Host names (with or without port) accepted beside loopback's when bound to loopback (DNS rebinding). */
  allowedHosts: z
    .array(z.string())
    .default([])
    .describe("host names the server answers besides localhost, 127.0.0.1 and [::1] (comma-separated; '*': any; against DNS rebinding)")
    .meta(cli({ flag: '--allowed-hosts <names>', parse: 'list' })),
  /** Jobs running at once (inference is CPU-bound; ONNX Runtime uses its own threads). */
  concurrency: z.number().int().positive().default(1).describe('classifications at once'),
  /** Jobs allowed to wait; beyond it the API answers 503 with Retry-After. */
  queueCapacity: z
    .number()
    .int()
    .nonnegative()
    .default(16)
    .describe('requests allowed to wait before 503')
    .meta(cli({ flag: '--queue <n>' })),
  /** Time limit of one request, a batch included (queue wait + work); a timed-out job is cancelled. */
  timeoutMs: z
    .number()
    .int()
    .positive()
    .default(120_000)
    .describe('time limit of one request or batch, e.g. 120s (a timed-out job is cancelled)')
    .meta(cli({ flag: '--timeout <duration>', parse: 'duration-ms' })),
  /** Largest request body (bytes); larger ones get 413. */
  maxBodyBytes: z
    .number()
    .int()
    .positive()
    .default(8 * 1024 * 1024)
    .describe('largest request body in bytes')
    .meta(cli({ flag: '--max-body <bytes>' })),
  maxBatch: z.number().int().positive().default(16).describe('images per batch request'),
  /**
   * Largest estimated work of one request, in multiply–accumulates (levels × images × passes per
   * level × MACs per pass); over it: 400. Null: a full batch at the model's default σ levels, with LM.
   */
  maxWorkMacs: z
    .number()
    .positive()
    .nullable()
    .default(null)
    .describe("largest estimated work of one request, in GMAC (default: a full batch at the model's σ levels)")
    .meta(cli({ flag: '--max-work <gmac>', parse: 'giga' })),
  /** Time a client has to send its whole request (headers and body); then 408 and the connection is closed. */
  bodyTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(30_000)
    .describe('time a client has to send its whole request, e.g. 30s')
    .meta(cli({ flag: '--body-timeout <duration>', parse: 'duration-ms' })),
  /** After SIGTERM: how long in-flight requests may take before open connections are closed. */
  drainTimeoutMs: z
    .number()
    .int()
    .nonnegative()
    .default(30_000)
    .describe('after SIGTERM, how long in-flight requests may take before connections are closed')
    .meta(cli({ flag: '--drain-timeout <duration>', parse: 'duration-ms' })),
  /**
   * The memory one certification's noisy draws may take (MB): the draws per network batch are this
   * divided by the activations of one draw (every value the network computes, an upper bound:
   * ONNX Runtime reuses most buffers). docs/serving.md gives what one request costs.
   */
  certifyMemoryMb: z
    .number()
    .int()
    .positive()
    .default(() => Number(process.env.RDC_CERTIFY_MEMORY) || 512)
    .describe('memory budget of one certification in MB, env RDC_CERTIFY_MEMORY (default 512: the pod limit of deploy/ holds it)')
    .meta(cli({ flag: '--certify-memory <mb>' })),
  /** Origins allowed to call the API from a browser ('*': any). Empty: cross-origin requests are refused. */
  cors: z
    .array(z.string())
    .default([])
    .describe("origins allowed to call the API from a browser, comma-separated ('*': any); default none")
    .meta(cli({ flag: '--cors <origins>', parse: 'list' })),
});
export type ServeConfig = z.infer<typeof ServeConfig>;
