/**
 * `rdc calibrate --model DIR`: the softmax temperature of a model's logits fitted on its validation
 * split (never the test batch), on its own and resumable: each image's logits are logged as soon as
 * they are computed (`--log`, default DIR.calibration.jsonl beside the folder), so a long calibration
 * of a full-size network (minutes per image on a CPU) survives interruptions. The temperature and its
 * record go into config.json and the card.
 */
import { resolve } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { calibrationRecord, calibrationText, Random, updateModelCardSection, isClassifierNetwork } from '@rdc/core';
import { imageSeed, JsonlLog } from '@rdc/attacks';
import { openOnValidation } from '../util/command-steps.js';
import { parseIntArg } from '../util/parse.js';
import { progressBar } from '../util/progress.js';
import { commandLine } from '../util/provenance.js';
import { ModelOption, SeedOption } from '../util/measure-options.js';
import { schemaOptions, sharedOptions } from '../util/schema-options.js';

interface LogitsRecord {
  index: number;
  label: number;
  logits: number[];
  levels: number;
}

export function calibrateCommand() {
  const cmd = new Command('calibrate')
    .description("fit a model's softmax temperature on its validation split (resumable: each image's logits are logged as they come)")
    .option('--images <n>', 'validation images', parseIntArg, 256)
    .option('--levels <n>', "σ levels (default: the model's)", parseIntArg)
    .option('--log <file>', 'per-image logits, for resuming (default: DIR.calibration.jsonl beside the folder)');
  for (const schema of [ModelOption, SeedOption]) schemaOptions(cmd, schema);
  sharedOptions(cmd, ['runtime', 'data']);
  return cmd.action(async (o) => {
    const { dir, seed, model, factory, data, indices } = await openOnValidation(o);
    const net = model.config.network;
    const levels = isClassifierNetwork(net) ? 1 : (o.levels ?? model.config.dc.levels);
    const clf = factory.get(isClassifierNetwork(net) ? { defense: 'none' } : { defense: 'dc', dc: { levels } });
    const take = indices.subarray(0, Math.min(o.images, indices.length));
    const log = new JsonlLog<LogitsRecord>(o.log ?? `${resolve(dir)}.calibration.jsonl`);
    const done = log.read();
    const k = clf.numClasses;
    const logits = new Float32Array(take.length * k);
    const labels = new Int32Array(take.length);
    const bar = progressBar('calibrate', take.length, { unit: 'images' });
    for (const [i, index] of take.entries()) {
      let rec = done.get(index);
      if (rec && rec.levels !== levels) rec = undefined;
      if (!rec) {
        const z = (await clf.logits(data.pixels([index]), new Random(imageSeed(seed, index)))).data;
        rec = { index, label: data.labels[index], logits: Array.from(z), levels };
        log.append(rec);
      }
      logits.set(rec.logits, i * k);
      labels[i] = rec.label;
      bar.update(i + 1);
    }
    bar.stop();
    const { temperature, calibration } = calibrationRecord(logits, labels, k, { levels, split: 'validation (held out of the training batches)' });
    updateModelCardSection(dir, 'calibration', `${calibrationText(temperature, calibration, 'unet')} Command: \`${commandLine()}\``, {
      temperature,
      calibration,
    });
    process.stdout.write(
      `${dir}: temperature ${temperature.toPrecision(3)} on ${take.length} validation images (accuracy ${(100 * calibration.accuracy).toFixed(1)} %)\n`,
    );
  });
}
