import { join } from 'node:path';
import { Command, Option } from '@commander-js/extra-typings';
import {
  cnnPreset,
  createEngine,
  guardTable,
  modelDenoisers,
  NOT_A_DIFFUSION_CLASSIFIER,
  readModelFolder,
  resolveEngineChoice,
  unetPreset,
  type NetworkConfig,
} from '@rdc/core';
import { adaptWeights, loadCifar10, readRunConfig, resolveDataDir, Trainer, TrainConfig, trainValSplit } from '@rdc/train';
import { createLogger } from '../util/log.js';
import { writeJson } from '../util/output.js';
import { DEVICE_HELP } from '../util/device.js';
import { parseDuration, parseIntArg, parseIntList, parseNumber } from '../util/parse.js';
import { progressBar } from '../util/progress.js';
import { commandLine, provenance } from '../util/provenance.js';

/** `rdc train`: train a multi-head diffusion UNet (or the baseline CNN) on CIFAR-10. */
export function trainCommand() {
  return new Command('train')
    .description('train a multi-head diffusion UNet (or the baseline CNN) on CIFAR-10: from scratch, fine-tuning (--from) or distillation (--teacher)')
    .addOption(new Option('--arch <arch>', 'network').choices(['unet', 'cnn'] as const).default('unet' as const))
    .addOption(new Option('--size <size>', 'network size').choices(['tiny', 'small', 'paper'] as const).default('tiny' as const))
    .option('--model-channels <n>', 'UNet base width (overrides --size)', parseIntArg)
    .option('--channel-mult <list>', 'UNet width multipliers per level, e.g. 1,2,2', parseIntList)
    .option('--num-blocks <n>', 'UNet residual blocks per level', parseIntArg)
    .option('--attn <list>', "UNet resolutions with self-attention, e.g. 16 (or '' for none)", parseIntList)
    .option('--head-channels <n>', "hidden channels of each head's own layer (multi-head UNet; 0: none)", parseIntArg)
    .option('--widths <list>', 'CNN widths per level, e.g. 32,64,128 (overrides --size)', parseIntList)
    .option('--dropout <p>', 'dropout rate', parseNumber)
    .option('--from <dir>', 'fine-tune from this model folder (the head count may differ)')
    .option('--teacher <dir>', 'distil from this teacher model folder')
    .option('--run <dir>', 'run folder for checkpoints and logs (default runs/<arch>-<size>-<time>)')
    .option('--resume', 'continue the run folder from its latest checkpoint')
    .option('--steps <n>', 'optimizer steps', parseIntArg)
    .option('--time-budget <duration>', 'stop cleanly after this long (e.g. 10m, 1.5h)', parseDuration)
    .option('--batch <n>', 'images per step', parseIntArg)
    .option('--lr <x>', 'learning rate', parseNumber)
    .addOption(new Option('--lr-schedule <kind>', 'after warm-up').choices(['constant', 'cosine'] as const))
    .option('--warmup <steps>', 'learning-rate warm-up steps', parseIntArg)
    .option('--weight-decay <x>', 'AdamW weight decay', parseNumber)
    .option('--grad-clip <x>', 'clip the global gradient norm (0: off)', parseNumber)
    .addOption(
      new Option('--optimizer <where>', 'AdamW and the EMA on the host, or inside the step graph on the engine (auto: in the graph on a GPU)').choices([
        'auto',
        'host',
        'device',
      ] as const),
    )
    .option('--uncond-weight <w>', 'loss weight of the unconditional head (the class head has 1)', parseNumber)
    .option('--ce-weight <w>', "weight of an auxiliary cross-entropy on the DC's logits at the sampled σ (multi-head UNet; 0: off)", parseNumber)
    .option('--ce-scale <s>', 'logit scale of that cross-entropy (default 1000)', parseNumber)
    .option('--ema-halflife <images>', 'EMA half-life in images', parseNumber)
    .option('--ema-rampup <x>', 'EMA ramp-up ratio (0: off)', parseNumber)
    .option('--p-mean <x>', "mean of EDM's log-normal σ sampling (ln σ)", parseNumber)
    .option('--p-std <x>', "standard deviation of EDM's log-normal σ sampling", parseNumber)
    .addOption(new Option('--sigma-sampling <kind>', 'training noise levels: EDM log-normal, or where the DC weights are').choices(['edm', 'dc'] as const))
    .option('--no-flip', 'no horizontal flips')
    .option('--val-size <n>', 'validation images held out of the training batches', parseIntArg)
    .option('--val-every <steps>', 'validation DC accuracy every N steps', parseIntArg)
    .option('--val-images <n>', 'validation images scored each time', parseIntArg)
    .option('--val-levels <n>', 'σ levels of the validation DC', parseIntArg)
    .option('--ckpt-every <steps>', 'checkpoint every N steps', parseIntArg)
    .option('--seed <n>', 'seed of everything random', parseIntArg)
    .option('--data-dir <dir>', 'CIFAR-10 binary folder (env RDC_DATA_DIR)')
    .option('--engine <name>', 'auto|ort|tfjs|tfjs-wasm|... (env RDC_ENGINE)')
    .option('--device <device>', DEVICE_HELP)
    .option('--threads <n>', 'ONNX Runtime threads', parseIntArg)
    .option('--json <file>', 'write a summary as JSON')
    .action(async (o) => {
      const log = createLogger('train');
      const runDir = o.run ?? join('runs', `${o.arch}-${o.size}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      const previous = o.resume ? readRunConfig(runDir) : null;
      const overrides = Object.fromEntries(
        Object.entries({
          steps: o.steps,
          timeBudget: o.timeBudget,
          batch: o.batch,
          lr: o.lr,
          lrSchedule: o.lrSchedule,
          warmup: o.warmup,
          weightDecay: o.weightDecay,
          gradClip: o.gradClip === 0 ? null : o.gradClip,
          optimizer: o.optimizer,
          uncondWeight: o.uncondWeight,
          ceWeight: o.ceWeight,
          ceScale: o.ceScale,
          emaHalflifeImages: o.emaHalflife,
          emaRampup: o.emaRampup === 0 ? null : o.emaRampup,
          sigmaSampling: o.sigmaSampling,
          pMean: o.pMean,
          pStd: o.pStd,
          flip: o.flip === false ? false : undefined,
          valSize: o.valSize,
          valEvery: o.valEvery,
          valImages: o.valImages,
          valLevels: o.valLevels,
          ckptEvery: o.ckptEvery,
          seed: o.seed,
          from: o.from,
          teacher: o.teacher,
        }).filter(([, v]) => v !== undefined),
      );
      const config = TrainConfig.parse({
        ...(previous?.train ?? { arch: o.arch, size: o.size }),
        ...overrides,
        ...(previous ? {} : { arch: o.arch, size: o.size }),
      });
      const net: Record<string, unknown> = Object.fromEntries(
        Object.entries({
          modelChannels: o.modelChannels,
          channelMult: o.channelMult,
          numBlocks: o.numBlocks,
          attnResolutions: o.attn,
          headChannels: o.headChannels,
          widths: o.widths,
          dropout: o.dropout,
        }).filter(([, v]) => v !== undefined),
      );

      const dataDir = resolveDataDir(o.dataDir);
      const data = loadCifar10(dataDir, 'train');
      const split = trainValSplit(data.size, config.valSize, config.seed);
      const engine = await createEngine(resolveEngineChoice(o.engine), { threads: o.threads ?? 1, device: o.device });
      const forward = engine.info.engine === 'ort' ? engine : await createEngine('ort', { threads: o.threads ?? 1, device: 'cpu' });

      let network: NetworkConfig;
      let init;
      let teacher;
      if (previous) {
        network = previous.network;
      } else if (config.from) {
        const src = readModelFolder(config.from);
        network = { ...(src.config.network as NetworkConfig), ...net, numClasses: data.classes.length } as NetworkConfig;
        const adapted = adaptWeights(src.weights, src.config.network, network, config.seed);
        init = adapted.weights;
        log.info({ from: config.from, copied: adapted.copied, reinitialised: adapted.adapted }, 'fine-tuning');
      } else {
        network =
          config.arch === 'cnn'
            ? cnnPreset(config.size, { numClasses: data.classes.length, ...net })
            : unetPreset(config.size, { numClasses: data.classes.length, ...net });
      }
      if (config.teacher) {
        const t = readModelFolder(config.teacher);
        if (t.config.network.arch === 'cnn') throw new Error('the teacher must be a diffusion model');
        // A label-conditional teacher (EDM's) with its unconditional network: every class head regresses
        // the teacher's D for its class, the unconditional head the unconditional network's.
        teacher = modelDenoisers(t, forward).main;
      }

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
        resume: Boolean(previous),
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
      log.info({ runDir, network: network.arch, engine: engine.info, steps: config.steps, resume: Boolean(previous) }, 'training');
      let result;
      try {
        result = await trainer.run();
      } finally {
        process.off('SIGINT', onSigint);
        bar.stop();
      }
      const summary = {
        runDir,
        step: result.step,
        imagesSeen: result.imagesSeen,
        stoppedBy: result.stoppedBy,
        elapsedSeconds: result.elapsedSeconds,
        lastLoss: result.lastLoss,
        valAccuracy: result.valAccuracy,
        guard: result.valGuard && { images: result.valGuard.images, rows: result.valGuard.rows, denoises: result.valGuard.denoises },
        ...provenance({ engine: engine.info, seeds: { seed: config.seed } }),
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
      if (o.json) writeJson(o.json, summary);
      if (result.stoppedBy === 'interrupt') process.exitCode = 130;
    });
}
