import { Command } from '@commander-js/extra-typings';
import { ServeConfig, startServer } from '@rdc/serve';
import { createLogger } from '../util/log.js';
import { DEVICE_HELP, precisionOption } from '../util/device.js';
import { parseDuration, parseIntArg, parseNumber } from '../util/parse.js';

/** `rdc serve`: the HTTP API on ONNX Runtime. */
export function serveCommand() {
  return new Command('serve')
    .description('serve the classification API (DC and RDC on ONNX Runtime) with a page to try it at /')
    .option('--model <dir>', 'model folder', 'models/default')
    .option('--port <n>', 'port', parseIntArg, 8080)
    .option('--host <host>', 'interface to listen on (0.0.0.0 in a container)', '127.0.0.1')
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: all cores)', parseIntArg)
    .option('--device <device>', DEVICE_HELP)
    .addOption(precisionOption())
    .option('--concurrency <n>', 'classifications at once', parseIntArg)
    .option('--queue <n>', 'requests allowed to wait before 503', parseIntArg)
    .option('--timeout <duration>', 'time limit of one request or batch, e.g. 120s (a timed-out job is cancelled)', parseDuration)
    .option('--max-body <bytes>', 'largest request body in bytes', parseIntArg)
    .option('--max-batch <n>', 'images per batch request', parseIntArg)
    .option('--max-work <gmac>', "largest estimated work of one request, in GMAC (default: a full batch at the model's σ levels)", parseNumber)
    .option('--body-timeout <duration>', 'time a client has to send its whole request, e.g. 30s', parseDuration)
    .option('--drain-timeout <duration>', 'after SIGTERM, how long in-flight requests may take before connections are closed', parseDuration)
    .option('--cors <origins>', "origins allowed to call the API from a browser, comma-separated ('*': any); default none")
    .action(async (o) => {
      const log = createLogger('serve');
      const ms = (s?: number) => (s === undefined ? undefined : Math.round(s * 1000));
      const cfg = ServeConfig.parse(
        Object.fromEntries(
          Object.entries({
            port: o.port,
            host: o.host,
            concurrency: o.concurrency,
            queueCapacity: o.queue,
            timeoutMs: ms(o.timeout),
            maxBodyBytes: o.maxBody,
            maxBatch: o.maxBatch,
            maxWorkMacs: o.maxWork === undefined ? undefined : o.maxWork * 1e9,
            bodyTimeoutMs: ms(o.bodyTimeout),
            drainTimeoutMs: ms(o.drainTimeout),
            cors: o.cors
              ?.split(',')
              .map((s) => s.trim())
              .filter(Boolean),
          }).filter(([, v]) => v !== undefined),
        ),
      );
      const server = await startServer(o.model, {
        ...cfg,
        threads: o.threads,
        device: o.device,
        precision: o.precision,
        handleSignals: true,
        onLog: (m) => log.info(m),
      });
      const shown = cfg.host === '0.0.0.0' || cfg.host === '::' ? `${cfg.host} (all interfaces)` : cfg.host;
      process.stdout.write(
        `RDC API on http://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${server.port}/  listening on ${shown}  (docs at /docs; Ctrl-C to stop)\n`,
      );
      await server.closed;
      // ONNX Runtime's threads can outlive the last request: the drained server exits now, with 0.
      process.exit(0);
    });
}
