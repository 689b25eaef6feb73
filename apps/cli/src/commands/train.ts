import { join } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import {
  CnnConfig,
  cnnPreset,
  createEngine,
  DataOptions,
  guardTable,
  InputError,
  JsonOutput,
  modelDenoisers,
  NOT_A_DIFFUSION_CLASSIFIER,
  readModelFolder,
  resolveEngineChoice,
  RuntimeOptions,
  TrainConfig,
  UNetConfig,
  unetPreset,
  type Denoiser,
  type Engine,
  type NetworkConfig,
  type Weights,
} from '@rdc/core';
import { adaptWeights, loadCifar10, readRunConfig, resolveDataDir, Trainer, trainValSplit } from '@rdc/train';
import type { Logger } from 'pino';
import { createLogger } from '../util/log.js';
import { writeJson } from '../util/output.js';
import { parseOptions, schemaOptions, schemaValues } from '../util/schema-options.js';
import { progressBar } from '../util/progress.js';
import { commandLine, provenance } from '../util/provenance.js';

/** The network fields `rdc train` takes on its command line (over the size preset). */
const UNET_FIELDS = ['modelChannels', 'channelMult', 'numBlocks', 'attnResolutions', 'headChannels', 'dropout'] as const;
const CNN_FIELDS = ['widths'] as const;

/** `rdc train`: train a multi-head diffusion UNet (or the baseline CNN) on CIFAR-10. */
export function trainCommand() {
  const cmd = new Command('train')
    .description('train a multi-head diffusion UNet (or the baseline CNN) on CIFAR-10: from scratch, fine-tuning (--from) or distillation (--teacher)')
    .option('--run <dir>', 'run folder for checkpoints and logs (default runs/<arch>-<size>-<time>)')
    .option('--resume', 'continue the run folder from its latest checkpoint');
  schemaOptions(cmd, TrainConfig);
  schemaOptions(cmd, UNetConfig, { pick: UNET_FIELDS, noDefaults: true });
  schemaOptions(cmd, CnnConfig, { pick: CNN_FIELDS, noDefaults: true });
  schemaOptions(cmd, RuntimeOptions);
  schemaOptions(cmd, DataOptions);
  schemaOptions(cmd, JsonOutput);
  return cmd.action(async (o: Record<string, unknown>) => {
    const log = createLogger('train');
    const resume = Boolean(o.resume);
    const given = schemaValues(o, TrainConfig);
    const arch = (given.arch as string | undefined) ?? 'unet';
    const runDir =
      (o.run as string | undefined) ??
      join('runs', `${arch}-${(given.size as string | undefined) ?? 'tiny'}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    const previous = resume ? readRunConfig(runDir) : null;
    // A resumed run keeps its recorded settings (its network and size too); the options given override the rest.
    const config = parseOptions(o, TrainConfig, previous?.train ?? {});
    if (previous) Object.assign(config, { arch: previous.train.arch, size: previous.train.size });
    const net = { ...schemaValues(o, UNetConfig, { pick: UNET_FIELDS }), ...schemaValues(o, CnnConfig, { pick: CNN_FIELDS }) };
    const runtime = parseOptions(o, RuntimeOptions);
    const { dataDir: dataDirOption } = parseOptions(o, DataOptions);
    const { json } = parseOptions(o, JsonOutput);

    const dataDir = resolveDataDir(dataDirOption);
    const data = loadCifar10(dataDir, 'train');
    const split = trainValSplit(data.size, config.valSize, config.seed);
    const engine = await createEngine(resolveEngineChoice(runtime.engine), { threads: runtime.threads ?? 1, device: runtime.device });
    const forward = engine.info.engine === 'ort' ? engine : await createEngine('ort', { threads: runtime.threads ?? 1, device: 'cpu' });

    const { network, init, teacher } = await startingPoint(config, previous?.network ?? null, net, data.classes.length, forward, log);

    const bar = progressBar('train', config.steps, { unit: 'steps', fields: ['loss', 'img_s', 'val'] });
    const trainer = new Trainer({
      config,
      network,
      runDir,
      data,
      split,
      gradientEngine: engine,
      forwardEngine: forward,
      init,
      teacher,
      resume,
      provenance: {
        data: { dir: dataDir, files: data.files, images: data.size },
        command: commandLine(),
        ...provenance({ engine: engine.info, seeds: { seed: config.seed } }),
      },
      onLog: (r) => {
        if (r.event === 'warning') log.warn({ step: r.step }, String(r.message));
      },
      onProgress: (p) =>
        bar.update(p.step, {
          loss: p.loss.toFixed(4),
          img_s: p.imagesPerSecond.toFixed(1),
          val: p.valAccuracy === undefined ? '-' : `${(100 * p.valAccuracy).toFixed(1)}%`,
        }),
    });
    let interrupts = 0;
    const onSigint = () => {
      interrupts++;
      if (interrupts > 1) process.exit(130);
      process.stderr.write('\nstopping after this step and saving a checkpoint (Ctrl-C again to quit now)\n');
      trainer.requestStop('interrupt');
    };
    process.on('SIGINT', onSigint);
    log.info({ runDir, network: network.arch, engine: engine.info, steps: config.steps, resume }, 'training');
    let result;
    try {
      result = await trainer.run();
    } finally {
      process.off('SIGINT', onSigint);
      bar.stop();
    }
    report(result, runDir, json, provenance({ engine: engine.info, seeds: { seed: config.seed } }), log);
    if (result.stoppedBy === 'interrupt') process.exitCode = 130;
  });
}

/**
 * What training starts from: a resumed run's network, a fine-tuned model's weights adapted to the
 * new network (`--from`), or a preset network; and the teacher's denoiser for distillation.
 */
async function startingPoint(
  config: TrainConfig,
  resumed: NetworkConfig | null,
  net: Record<string, unknown>,
  classes: number,
  forward: Engine,
  log: Logger,
): Promise<{ network: NetworkConfig; init?: Weights; teacher?: Denoiser }> {
  let network: NetworkConfig;
  let init: Weights | undefined;
  if (resumed) network = resumed;
  else if (config.from) {
    const src = readModelFolder(config.from);
    network = { ...(src.config.network as NetworkConfig), ...net, numClasses: classes } as NetworkConfig;
    const adapted = adaptWeights(src.weights, src.config.network, network, config.seed);
    init = adapted.weights;
    log.info({ from: config.from, copied: adapted.copied, reinitialised: adapted.adapted }, 'fine-tuning');
  } else network = config.arch === 'cnn' ? cnnPreset(config.size, { numClasses: classes, ...net }) : unetPreset(config.size, { numClasses: classes, ...net });
  if (!config.teacher) return { network, init };
  const t = readModelFolder(config.teacher);
  if (t.config.network.arch === 'cnn') throw new InputError('the teacher must be a diffusion model');
  // A label-conditional teacher (EDM's) with its unconditional network: every class head regresses
  // the teacher's D for its class, the unconditional head the unconditional network's.
  return { network, init, teacher: modelDenoisers(t, forward).main };
}

/** The end of a run: the summary logged and written (--json), the lines a user reads, the guard's table. */
function report(result: Awaited<ReturnType<Trainer['run']>>, runDir: string, json: string | undefined, where: Record<string, unknown>, log: Logger): void {
  const summary = {
    runDir,
    step: result.step,
    imagesSeen: result.imagesSeen,
    stoppedBy: result.stoppedBy,
    elapsedSeconds: result.elapsedSeconds,
    lastLoss: result.lastLoss,
    valAccuracy: result.valAccuracy,
    guard: result.valGuard && { images: result.valGuard.images, rows: result.valGuard.rows, denoises: result.valGuard.denoises },
    ...where,
  };
  log.info(summary, 'done');
  const acc = result.valAccuracy === null ? '-' : `${(100 * result.valAccuracy).toFixed(1)} %`;
  process.stdout.write(`trained ${result.step} steps (${result.imagesSeen} images, stopped by ${result.stoppedBy}); validation accuracy ${acc}\n`);
  if (result.valGuard) {
    const g = result.valGuard;
    process.stdout.write(
      `generative guard (${g.images} validation images): ${g.denoises ? 'the class heads denoise' : NOT_A_DIFFUSION_CLASSIFIER}\n${guardTable(g)}\n`,
    );
  }
  process.stdout.write(`run folder: ${runDir}  (export with: pnpm rdc export --run ${runDir} --model DIR)\n`);
  if (json) writeJson(json, summary);
}
