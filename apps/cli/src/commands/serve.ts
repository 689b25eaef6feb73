import { Command } from '@commander-js/extra-typings';
import { PrecisionOptions, RuntimeOptions, ServeConfig } from '@rdc/core';
import { startServer } from '@rdc/serve';
import { createLogger } from '../util/log.js';
import { parseOptions, schemaOptions } from '../util/schema-options.js';

/** `rdc serve`: the HTTP API on ONNX Runtime; its options are core's `ServeConfig`. */
export function serveCommand() {
  const cmd = new Command('serve')
    .description('serve the classification API (DC and RDC on ONNX Runtime) with a page to try it at /')
    .option('--model <dir>', 'model folder', 'models/default');
  schemaOptions(cmd, ServeConfig);
  schemaOptions(cmd, RuntimeOptions, { pick: ['device', 'threads'] });
  schemaOptions(cmd, PrecisionOptions);
  return cmd.action(async (o: Record<string, unknown>) => {
    const log = createLogger('serve');
    const cfg = parseOptions(o, ServeConfig);
    const { device, threads } = parseOptions(o, RuntimeOptions, {}, { pick: ['device', 'threads'] });
    const { precision } = parseOptions(o, PrecisionOptions);
    const server = await startServer(o.model as string, { ...cfg, threads, device, precision, handleSignals: true, onLog: (m) => log.info(m) });
    const shown = cfg.host === '0.0.0.0' || cfg.host === '::' ? `${cfg.host} (all interfaces)` : cfg.host;
    process.stdout.write(
      `RDC API on http://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${server.port}/  listening on ${shown}  (docs at /docs; Ctrl-C to stop)\n`,
    );
    await server.closed;
    // ONNX Runtime's threads can outlive the last request: the drained server exits now, with 0.
    process.exit(0);
  });
}
