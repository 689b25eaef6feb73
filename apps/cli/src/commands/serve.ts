import { Command } from '@commander-js/extra-typings';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, PrecisionOptions, RuntimeOptions, ServeConfig } from '@rdc/core';
import { startServer } from '@rdc/serve';
import { createLogger } from '../util/log.js';
import { parseOptions, schemaOptions } from '../util/schema-options.js';

/** Every model folder (a folder with config.json) directly under `root`, `default` first. */
function modelFolders(root: string): string[] {
  if (!existsSync(root)) throw new InputError(`no ${root}/ folder here: name a model folder with --model DIR`, 'bad_model');
  const names = readdirSync(root)
    .filter((n) => existsSync(join(root, n, 'config.json')))
    .sort((a, b) => (a === 'default' ? -1 : b === 'default' ? 1 : a.localeCompare(b)));
  if (names.length === 0) throw new InputError(`${root}/ holds no model folder: name one with --model DIR`, 'bad_model');
  return names.map((n) => join(root, n));
}

/** `rdc serve`: the HTTP API on ONNX Runtime; its options are core's `ServeConfig`. */
export function serveCommand() {
  const cmd = new Command('serve')
    .description('serve the classification API (DC and RDC on ONNX Runtime) with a page to try it at /')
    .option('--model <dir>', 'a model folder to serve (repeat for several; default: every model folder under models/)', (v: string, all: string[] = []) => [
      ...all,
      v,
    ]);
  schemaOptions(cmd, ServeConfig);
  schemaOptions(cmd, RuntimeOptions, { pick: ['device', 'threads'] });
  schemaOptions(cmd, PrecisionOptions);
  return cmd.action(async (o: Record<string, unknown>) => {
    const log = createLogger('serve');
    const cfg = parseOptions(o, ServeConfig);
    const { device, threads } = parseOptions(o, RuntimeOptions, {}, { pick: ['device', 'threads'] });
    const { precision } = parseOptions(o, PrecisionOptions);
    const server = await startServer((o.model as string[] | undefined) ?? modelFolders('models'), {
      ...cfg,
      threads,
      device,
      precision,
      handleSignals: true,
      onLog: (m) => log.info(m),
    });
    const shown = cfg.host === '0.0.0.0' || cfg.host === '::' ? `${cfg.host} (all interfaces)` : cfg.host;
    process.stdout.write(
      `models: ${server.models
        .list()
        .map((m) => `${m.name} (${m.model.config.network.arch}${m.guard.label ? `; ${m.guard.label}` : ''})`)
        .join(', ')}\n`,
    );
    process.stdout.write(
      `RDC API on http://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${server.port}/  listening on ${shown}  (docs at /docs; Ctrl-C to stop)\n`,
    );
    await server.closed;
    // ONNX Runtime's threads can outlive the last request: the drained server exits now, with 0.
    process.exit(0);
  });
}
