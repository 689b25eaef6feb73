/**
 * Starts the API on a port: loads the model, listens (so /healthz answers), warms the model up (then
 * /readyz answers 200; if loading or warm-up fails, the port is closed and the error thrown). Requests
 * that Node's HTTP parser refuses (a bad method, a bad header, headers too large, a request not
 * received within `bodyTimeoutMs`) get the same JSON error body as every other error. On
 * SIGTERM/SIGINT it stops accepting connections, lets in-flight requests finish for up to
 * `drainTimeoutMs`, then cancels what is left, closes every connection, and resolves `closed`.
 *
 * @example
 * const s = await startServer('models/default', { port: 8080 });
 * await s.closed;
 */
import { getRequestListener } from '@hono/node-server';
import { createServer, STATUS_CODES, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { InputError, OrtEngine, resolveDeviceChoice, selectDevice, ServeConfig } from '@rdc/core/runtime';
import { createApp, type AppHandle } from './app.js';
import { ShutdownError } from './queue.js';
import { ModelRegistry } from './service/registry.js';
import { ServedModel } from './service/served-model.js';

export interface RunningServer extends AppHandle {
  port: number;
  /** The default model. */
  service: ServedModel;
  /** Stops accepting, waits for in-flight work up to the drain deadline, closes. */
  close(): Promise<void>;
  closed: Promise<void>;
}

/** How often Node checks request timeouts (its default, 30 s, would let a slow body run long past the limit). */
const CHECK_INTERVAL_MS = 1000;

/** Answers a request Node's parser refused, in the API's error shape, and closes the connection. */
function refuseRaw(err: Error & { code?: string }, socket: Socket): void {
  // The handler still reading this request's body will see it aborted: not the client's hang-up, nor an internal error.
  // The client went away (its connection ended mid-request): nobody to answer.
  if (!socket.writable || err.code === 'HPE_INVALID_EOF_STATE' || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  (socket as Socket & { refusedByParser?: boolean }).refusedByParser = true;
  const [status, code, message] =
    err.code === 'CONNECT'
      ? [405, 'method_not_allowed', 'CONNECT is not served here: this is an HTTP API (GET and POST)']
      : err.code === 'HPE_INVALID_VERSION'
        ? [505, 'http_version', 'this HTTP version is not served here: use HTTP/1.1']
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'headers_too_large', 'the request headers are too large']
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'request_timeout', 'the request was not received in time']
            : [400, 'bad_request', 'the request is not valid HTTP (a bad method, URL or header)'];
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export async function startServer(
  modelDirs: string | readonly string[],
  config: Partial<ServeConfig> & {
    threads?: number;
    device?: string;
    precision?: 'fp32' | 'fp16';
    handleSignals?: boolean;
    onLog?: (msg: Record<string, unknown>) => void;
  } = {},
): Promise<RunningServer> {
  const cfg = ServeConfig.parse(config);
  const log = config.onLog ?? (() => undefined);
  const dirs = typeof modelDirs === 'string' ? [modelDirs] : modelDirs;
  if (dirs.length === 0) throw new InputError('no model folder to serve: name one with --model DIR', 'bad_model');
  const engine = await OrtEngine.create({ threads: config.threads, device: selectDevice(resolveDeviceChoice(config.device)), precision: config.precision });
  const services: ServedModel[] = [];
  for (const dir of dirs) services.push(await ServedModel.load(dir, { engine }));
  const models = new ModelRegistry(services);
  const service = models.get();
  const handle = createApp(models, cfg);
  // The request listener of @hono/node-server, with an error handler of ours for requests it cannot
  // turn into a Request (no Host header, a backslash in the path, a bad Host): the same JSON error shape.
  const listener = getRequestListener(handle.app.fetch, {
    errorHandler: (err) =>
      /missing host/i.test(String((err as Error)?.message))
        ? Response.json({ error: { code: 'missing_host', message: 'the request has no Host header' } }, { status: 400 })
        : Response.json({ error: { code: 'bad_request', message: 'the request URL or Host header is not valid' } }, { status: 400 }),
  });
  const http: Server = createServer(
    {
      requestTimeout: cfg.bodyTimeoutMs,
      headersTimeout: Math.min(cfg.bodyTimeoutMs, 60_000),
      connectionsCheckingInterval: CHECK_INTERVAL_MS,
      // A request without Host reaches the listener, which answers it in the API's error shape.
      requireHostHeader: false,
    },
    (req, res) => {
      // HTTP/1.0 and 1.1 only: Node's parser takes any 'HTTP/x.y' request line.
      if (req.httpVersion === '1.1' || req.httpVersion === '1.0') return void listener(req, res);
      const body = JSON.stringify({ error: { code: 'http_version', message: `HTTP/${req.httpVersion.slice(0, 8)} is not served here: use HTTP/1.1` } });
      res.writeHead(505, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'x-content-type-options': 'nosniff',
        connection: 'close',
      });
      res.end(body);
    },
  );
  // CONNECT is not an HTTP API method: answer it (Node would close the socket without a word).
  http.on('connect', (_req, socket: Socket) => refuseRaw(Object.assign(new Error('CONNECT'), { code: 'CONNECT' }), socket));
  http.on('clientError', refuseRaw);
  await new Promise<void>((resolve, reject) => {
    http.once('error', (err: Error & { code?: string }) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new InputError(
              `port ${cfg.port} on ${cfg.host} is already in use (another server?): stop it, or pass --port with a free port (0: any)`,
              'port_in_use',
            )
          : err.code === 'EACCES'
            ? new InputError(`port ${cfg.port} on ${cfg.host} needs privileges: pass --port 1024 or above`, 'port_denied')
            : err,
      ),
    );
    http.listen(cfg.port, cfg.host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  log({ msg: 'listening', port, host: cfg.host, models: services.map((m) => m.name), device: engine.info.backend, adapter: engine.info.adapter });
  try {
    for (const m of services) await m.warmUp();
  } catch (err) {
    http.closeAllConnections();
    await new Promise((r) => http.close(() => r(undefined)));
    throw err;
  }
  handle.setReady(true);
  log({ msg: 'ready' });

  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      handle.setReady(false);
      log({
        msg: 'shutting down: finishing in-flight requests',
        waiting: handle.queue.depth,
        running: handle.queue.runningJobs,
        deadlineMs: cfg.drainTimeoutMs,
      });
      const stopped = new Promise<void>((r) => http.close(() => r()));
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'deadline'>((r) => (timer = setTimeout(() => r('deadline'), cfg.drainTimeoutMs)));
      if ((await Promise.race([handle.queue.drain().then(() => 'drained' as const), deadline])) === 'drained') {
        // Let the last responses flush, then drop idle keep-alive connections; a client still
        // sending a request keeps its connection until the deadline.
        await new Promise((r) => setTimeout(r, 50));
        http.closeIdleConnections();
      }
      if ((await Promise.race([stopped.then(() => 'stopped' as const), deadline])) === 'deadline') {
        log({ msg: 'drain deadline passed: cancelling the remaining work and closing every connection', running: handle.queue.runningJobs });
        handle.queue.abortAll(new ShutdownError());
        http.closeAllConnections();
        await stopped;
      }
      clearTimeout(timer);
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
