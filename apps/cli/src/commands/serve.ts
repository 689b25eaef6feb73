import { Command } from '@commander-js/extra-typings';
import { ServeConfig, startServer } from '@rdc/serve';
import { createLogger } from '../util/log.js';
import { parseDuration, parseIntArg } from '../util/parse.js';

/** `rdc serve`: the HTTP API on ONNX Runtime. */
export function serveCommand() {
  return new Command('serve')
    .description('serve the classification API (DC and RDC on ONNX Runtime) with a page to try it at /')
    .option('--model <dir>', 'model folder', 'models/default')
    .option('--port <n>', 'port', parseIntArg, 8080)
    .option('--host <host>', 'interface to listen on', '0.0.0.0')
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: all cores)', parseIntArg)
    .option('--concurrency <n>', 'classifications at once', parseIntArg)
    .option('--queue <n>', 'requests allowed to wait before 503', parseIntArg)
    .option('--timeout <duration>', 'per-request time limit, e.g. 120s', parseDuration)
    .option('--max-body <bytes>', 'largest request body in bytes', parseIntArg)
    .action(async (o) => {
      const log = createLogger('serve');
      const cfg = ServeConfig.parse(
        Object.fromEntries(
          Object.entries({
            port: o.port,
            host: o.host,
            concurrency: o.concurrency,
            queueCapacity: o.queue,
            timeoutMs: o.timeout === undefined ? undefined : o.timeout * 1000,
            maxBodyBytes: o.maxBody,
          }).filter(([, v]) => v !== undefined),
        ),
      );
      const server = await startServer(o.model, { ...cfg, threads: o.threads, handleSignals: true, onLog: (m) => log.info(m) });
      process.stdout.write(`RDC API on http://${cfg.host === '0.0.0.0' ? 'localhost' : cfg.host}:${server.port}/  (docs at /docs; Ctrl-C to stop)\n`);
      await server.closed;
    });
}
