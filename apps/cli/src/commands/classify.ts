import { readFileSync } from 'node:fs';
import { Command, Option } from '@commander-js/extra-typings';
import { ClassifyOptions } from '@rdc/core/runtime';
import { decodeImage, InferenceService } from '@rdc/serve';
import { writeJson } from '../util/output.js';
import { DEVICE_HELP, precisionOption } from '../util/device.js';
import { parseIntArg } from '../util/parse.js';
import { provenance } from '../util/provenance.js';

/** `rdc classify IMAGE...`: the API's classification from the command line (ONNX Runtime). */
export function classifyCommand() {
  return new Command('classify')
    .description('classify image files (PNG, JPEG, WebP; resized like the API does) with the DC or the RDC')
    .argument('<images...>', 'image files')
    .option('--model <dir>', 'model folder', 'models/default')
    .addOption(new Option('--defense <kind>', 'dc or rdc').choices(['dc', 'rdc'] as const).default('rdc' as const))
    .addOption(new Option('--method <preset>', "LM preset (default: the model's)").choices(['released', 'paper'] as const))
    .option('--levels <n>', "σ levels (default: the model's)", parseIntArg)
    .option('--seed <n>', 'noise seed (default: fresh, printed)', parseIntArg)
    .option('--threads <n>', 'ONNX Runtime threads', parseIntArg)
    .option('--device <device>', DEVICE_HELP)
    .addOption(precisionOption())
    .option('--json <file>', "write the results as JSON ('-' for stdout)")
    .action(async (images, o) => {
      const opts = ClassifyOptions.parse({ defense: o.defense, method: o.method, levels: o.levels, seed: o.seed });
      const svc = await InferenceService.load(o.model, { threads: o.threads, device: o.device, precision: o.precision });
      const results = [];
      for (const [i, file] of images.entries()) {
        const pixels = await decodeImage(readFileSync(file), svc.imageDims);
        const r = await svc.classify(pixels, { ...opts, seed: opts.seed === undefined ? undefined : opts.seed + i });
        results.push({ file, ...r });
        if (!o.json || o.json !== '-')
          process.stdout.write(
            `${file}: ${r.top.label} (${(100 * r.top.probability).toFixed(1)} %)  [${r.options.defense}, ${r.options.levels} σ levels, seed ${r.options.seed}]\n`,
          );
      }
      if (o.json) writeJson(o.json, { model: svc.model.dir, results, ...provenance({ engine: svc.engine.info }) });
    });
}
