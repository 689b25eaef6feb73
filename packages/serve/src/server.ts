import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { ServeConfig } from './config.js';
import { createApp, type AppHandle } from './app.js';
import { InferenceService } from './inference.js';

/**
 * Starts the API on a port: loads the model, warms it up (then /readyz answers 200), and on
 * SIGTERM/SIGINT stops accepting connections, finishes in-flight requests, and resolves `closed`.
 *
 * @example
 * const s = await startServer('models/default', { port: 8080 });
 * await s.closed;
 */
export interface RunningServer extends AppHandle {
  port: number;
  service: InferenceService;
  /** Stops accepting, waits for in-flight work, closes. */
  close(): Promise<void>;
  closed: Promise<void>;
}

export async function startServer(
  modelDir: string,
  config: Partial<ServeConfig> & { threads?: number; handleSignals?: boolean; onLog?: (msg: Record<string, unknown>) => void } = {},
): Promise<RunningServer> {
  const cfg = ServeConfig.parse(config);
  const log = config.onLog ?? (() => undefined);
  const service = await InferenceService.load(modelDir, { threads: config.threads });
  const handle = createApp(service, cfg);
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: handle.app.fetch, port: cfg.port, hostname: cfg.host }, () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  log({ msg: 'listening', port, host: cfg.host, model: service.model.dir });
  await service.warmUp();
  handle.setReady(true);
  log({ msg: 'ready' });

  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      handle.setReady(false);
      log({ msg: 'shutting down: finishing in-flight requests', waiting: handle.queue.depth, running: handle.queue.active });
      const stopped = new Promise<void>((r) => server.close(() => r()));
      await handle.queue.drain();
      // Let the last responses flush, then drop idle keep-alive connections.
      await new Promise((r) => setTimeout(r, 50));
      (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
      await stopped;
      log({ msg: 'stopped' });
      resolveClosed();
    })();
    return closing;
  };
  if (config.handleSignals) {
    process.once('SIGTERM', () => void close());
    process.once('SIGINT', () => void close());
  }
  return { ...handle, port, service, close, closed };
}
