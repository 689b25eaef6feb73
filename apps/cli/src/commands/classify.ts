import { existsSync, readFileSync, statSync } from 'node:fs';
import { Command } from '@commander-js/extra-typings';
import { ClassifyFields, InputError } from '@rdc/core/runtime';
import { classifyImage, decodeImage, ServedModel } from '@rdc/serve';
import { parseOptions, readShared, schemaOptions, sharedOptions } from '../util/schema-options.js';
import { writeJson } from '../util/output.js';
import { provenance } from '../util/provenance.js';

/** An image file's pixels, or an InputError naming the file (missing, a folder, not an image, damaged). */
async function readImage(file: string, dims: readonly [number, number, number]) {
  if (!existsSync(file)) throw new InputError(`${file}: no such file`, 'bad_input');
  if (!statSync(file).isFile()) throw new InputError(`${file}: not a file (give image files: PNG, JPEG or WebP)`, 'bad_input');
  try {
    return await decodeImage(readFileSync(file), dims);
  } catch (err) {
    const why = (err as Error).message.replace(/; (send|declare) .*$/, '');
    throw new InputError(`${file}: ${why} (give PNG, JPEG or WebP image files)`, 'bad_input');
  }
}

/** `rdc classify IMAGE...`: the API's classification from the command line (ONNX Runtime); its options are the API's (`ClassifyFields`). */
export function classifyCommand() {
  const cmd = new Command('classify')
    .description('classify image files (PNG, JPEG, WebP; resized like the API does) with the RDC, the DC or a CNN')
    .argument('<images...>', 'image files')
    .option('--model <dir>', 'model folder', 'models/default');
  schemaOptions(cmd, ClassifyFields);
  sharedOptions(cmd, ['ort', 'precision', 'json']);
  return cmd.action(async (images: string[], o: Record<string, unknown>) => {
    const shared = readShared(o);
    // No defense named: the model's own (the RDC, the DC, or a CNN's plain network).
    const opts = ClassifyFields.parse(parseOptions(o, ClassifyFields));
    const svc = await ServedModel.load(o.model as string, { threads: shared.threads, device: shared.device, precision: shared.precision });
    const results = [];
    for (const [i, file] of images.entries()) {
      const pixels = await readImage(file, svc.imageDims);
      const r = await classifyImage(svc, pixels, { ...opts, seed: opts.seed === undefined ? undefined : opts.seed + i });
      results.push({ file, ...r });
      if (shared.json !== '-')
        process.stdout.write(
          `${file}: ${r.top.label} (${(100 * r.top.probability).toFixed(1)} %)  [${r.options.defense}${r.options.levels ? `, ${r.options.levels} σ levels` : ''}, seed ${r.options.seed}]\n`,
        );
    }
    if (shared.json) writeJson(shared.json, { model: svc.model.dir, results, ...provenance({ engine: svc.engine.info }) });
  });
}
