/**
 * The `rdc` command. Exit codes: 0 success, 1 failure while running, 2 bad arguments or input.
 *
 * @example
 * await run(['node', 'rdc', 'info', '--json', '-']);
 */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { InputError } from '@rdc/core';
import { ZodError } from 'zod';
import { downloadDataCommand } from './commands/download-data.js';
import { infoCommand } from './commands/info.js';
import { trainCommand } from './commands/train.js';
import { exportCommand } from './commands/export.js';
import { evalCommand } from './commands/eval.js';
import { sampleCommand } from './commands/sample.js';
import { benchCommand } from './commands/bench.js';
import { serveCommand } from './commands/serve.js';
import { classifyCommand } from './commands/classify.js';
import { attackCommand } from './commands/attack.js';
import { certifyCommand } from './commands/certify.js';
import { calibrateCommand } from './commands/calibrate.js';
import { fitWeightsCommand } from './commands/fit-weights.js';
import { mergeCommand } from './commands/merge.js';
import { sweepsCommand } from './commands/sweeps.js';
import { resealCommand } from './commands/reseal.js';
import { importCommand } from './commands/import.js';
import { UsageError } from './util/output.js';
import { setCommandLine } from './util/provenance.js';
import { RDC_VERSION } from './version.js';

export function createProgram(): Command {
  const program = new Command('rdc')
    .description('Robust Diffusion Classifier: train, export, evaluate, attack and serve diffusion classifiers')
    .version(RDC_VERSION)
    .showHelpAfterError()
    .exitOverride();
  for (const cmd of [
    infoCommand(),
    trainCommand(),
    exportCommand(),
    evalCommand(),
    attackCommand(),
    certifyCommand(),
    mergeCommand(),
    sweepsCommand(),
    serveCommand(),
    classifyCommand(),
    sampleCommand(),
    benchCommand(),
    downloadDataCommand(),
    resealCommand(),
    calibrateCommand(),
    fitWeightsCommand(),
    importCommand(),
  ])
    program.addCommand(cmd.exitOverride());
  return program;
}

export async function run(argv: string[]): Promise<number> {
  try {
    setCommandLine(argv);
    await createProgram().parseAsync(argv);
    // A command may set its own code (e.g. 130 when training was interrupted and saved).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : 2;
    }
    if (err instanceof ZodError) {
      process.stderr.write(`error: invalid options:\n${err.issues.map((i) => `  --${i.path.join('.')}: ${i.message}`).join('\n')}\n`);
      return 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`error: ${message}\n`);
    if (process.env.RDC_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return err instanceof UsageError || err instanceof InputError ? 2 : 1;
  }
}
