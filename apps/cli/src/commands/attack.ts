import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from '@commander-js/extra-typings';
import {
  guardLabel,
  guardStatus,
  createEngine,
  formatRate,
  InputError,
  openClassifier,
  parseFraction,
  readModelFolder,
  resolveEngineChoice,
  updateModelCardSection,
  type Classifier,
} from '@rdc/core';
import {
  AttackName,
  buildAttacks,
  DEFAULT_EPS,
  evaluateRobustness,
  isClean,
  isRobust,
  JsonlLog,
  protocolPreset,
  type RunManifest,
  RECHECK_RULES,
  runSanityChecks,
  survives,
  type ImageRecord,
  type Norm,
  type RobustSummary,
} from '@rdc/attacks';
import { resolveDataDir } from '@rdc/train';
import { attackLabels, writeAttackReport } from '../report/attack-report.js';
import { sweepPoint, type SweepPoint } from '../report/sweep-table.js';
import { humanOutput, writeJson } from '../util/output.js';
import { DEVICE_HELP, precisionOption } from '../util/device.js';
import { parseIntArg } from '../util/parse.js';
import { progressBar } from '../util/progress.js';
import { codeVersion, commandLine, provenance } from '../util/provenance.js';
import { asksForShard, shardedSelection, shardFolder, shardOptions, splitImages, splitOption } from '../util/shard-options.js';

/** `rdc attack`: adaptive white-box attacks and the robust accuracy of a model. */
export function attackCommand() {
  return shardOptions(new Command('attack'))
    .description(
      'adaptive white-box attacks: clean and robust accuracy (per attack and worst case, with 95 % CIs) on the first N CIFAR-10 test images, a per-image log that resumes, and a Markdown report',
    )
    .requiredOption('--model <dir>', 'model folder (a diffusion model, or a CNN with --defense none)')
    .addOption(new Option('--defense <kind>', 'what is attacked').choices(['none', 'dc', 'rdc'] as const).default('rdc' as const))
    .addOption(new Option('--method <preset>', "LM preset of the RDC (default: the model's)").choices(['released', 'paper'] as const))
    .addOption(new Option('--protocol <name>', 'attack budget').choices(['quick', 'paper', 'strong'] as const).default('quick' as const))
    .option('--attacks <list>', `comma-separated: ${AttackName.options.join(', ')} (default: the protocol's)`)
    .addOption(new Option('--norm <norm>', 'threat model').choices(['linf', 'l2'] as const).default('linf' as const))
    .option('--eps <eps>', 'radius in pixel units, e.g. 8/255 (default 8/255 for linf, 0.5 for l2)')
    .option('--limit <n>', 'number of test images (from the first)', parseIntArg, 16)
    .addOption(splitOption('choosing a recipe'))
    .option('--iterations <n>', 'gradient attack iterations', parseIntArg)
    .option('--restarts <n>', 'restarts', parseIntArg)
    .option('--queries <n>', 'Square query budget', parseIntArg)
    .option('--eot <k>', 'gradient draws averaged per step (EOT)', parseIntArg)
    .option(
      '--recheck <k>',
      'fresh re-classifications of each clean and adversarial image (the report gives the first, the majority and all of them)',
      parseIntArg,
    )
    .addOption(new Option('--rule <rule>', "the headline re-check rule (default: the protocol's)").choices(['single', 'majority', 'all'] as const))
    .option(
      '--confirm <k>',
      'fresh draws that must all misclassify an iterate before an attack may stop early (default 3 on the DC/RDC, 1 on a plain network; 0: never)',
      parseIntArg,
    )
    .option('--square-draws <m>', 'Square: average each query over m fixed noise draws (EOT inside the search; default 1)', parseIntArg)
    .option('--levels <n>', 'σ levels of the DC', parseIntArg)
    .addOption(
      new Option(
        '--gradient <mode>',
        "RDC gradient: the exact DC gradient with LM by BPDA (the authors' setting), or full differentiation through the LM steps",
      )
        .choices(['bpda', 'full'] as const)
        .default('bpda' as const),
    )
    .option('--sweep <list>', 'also evaluate at these radii and plot robust accuracy against ε, e.g. 2/255,4/255,8/255')
    .option('--sanity', 'run the adaptive-attack sanity checks and print them in the report')
    .option('--sanity-images <n>', 'images for the sanity checks', parseIntArg, 8)
    .option('--out <dir>', 'report folder (re-running with the same folder resumes)')
    .option('--seed <n>', 'seed', parseIntArg, 0)
    .option('--data-dir <dir>', 'CIFAR-10 binary folder (env RDC_DATA_DIR)')
    .option('--engine <name>', 'engine (env RDC_ENGINE)')
    .option('--device <device>', DEVICE_HELP)
    .addOption(precisionOption())
    .option('--threads <n>', 'ONNX Runtime threads', parseIntArg)
    .option('--json <file>', 'write the summary as JSON')
    .option('--record', "write the headline (clean, worst case and null attack, with the budget and re-check rule) into the model's MODEL_CARD.md")
    .action(async (o) => {
      if (o.record && o.split !== 'test') throw new InputError('--record reports test-set figures: drop --split val');
      if (o.record && asksForShard(o))
        throw new InputError('--record needs the whole selection: run it unsharded (rdc merge reports merged figures but does not record them)');
      const model = readModelFolder(o.model);
      const norm = o.norm as Norm;
      const eps = o.eps === undefined ? DEFAULT_EPS[norm] : parseFraction(o.eps);
      if (!(eps > 0)) throw new InputError(`--eps must be positive, got ${o.eps}`);
      const attackList = o.attacks?.split(',').map((a) => {
        const p = AttackName.safeParse(a.trim());
        if (!p.success) throw new InputError(`unknown attack '${a}'; choose from ${AttackName.options.join(', ')}`);
        return p.data;
      });
      const protocol = protocolPreset(o.protocol, {
        attacks: attackList,
        iterations: o.iterations,
        restarts: o.restarts,
        queries: o.queries,
        eot: o.eot,
        recheck: o.recheck,
        rule: o.rule,
        confirm: o.confirm,
        squareDraws: o.squareDraws,
        levels: o.levels,
      });
      const engine = await createEngine(resolveEngineChoice(o.engine), { threads: o.threads, device: o.device, precision: o.precision });
      const method = o.method ?? model.config.lmMethod;
      const classifier: Classifier = openClassifier(model, engine, {
        defense: o.defense,
        method,
        dc: { levels: protocol.levels },
        gradient: o.gradient,
      });
      const exactGradient: Classifier =
        classifier.defense === 'rdc' ? openClassifier(model, engine, { defense: 'dc', dc: { levels: protocol.levels } }) : classifier;
      // Positions in the split (for the validation split, positions in its list of training images).
      const { data, size, at } = splitImages(o, model.config, resolveDataDir(o.dataDir));
      const sel = shardedSelection(o, size);
      const { selection, shard, indices } = sel;
      const imagesLabel = `${sel.label} ${o.split === 'test' ? 'of the CIFAR-10 test batch' : "of the model's validation split"}`;
      const labels = indices.map((i) => data.labels[at(i)]);
      const images = (p: number) => data.pixels([at(indices[p])]);
      if (shard && !o.out)
        throw new InputError('a sharded run needs --out DIR, the same for every shard (each writes DIR/shard-I-of-N; rdc merge DIR joins them)');
      const base = o.out ?? join('runs', `attack-${o.defense}-${o.protocol}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      const out = shard ? join(base, shardFolder(shard)) : base;
      mkdirSync(out, { recursive: true });
      const sweepRadii = o.sweep ? [...new Set([...o.sweep.split(',').map((v) => parseFraction(v)), eps])].sort((a, b) => a - b) : undefined;

      const settings = {
        model: model.dir,
        modelSha256: model.config.files['model.safetensors'].sha256,
        defense: o.defense,
        method: o.defense === 'rdc' ? method : undefined,
        gradient: o.defense === 'rdc' ? o.gradient : 'exact',
        protocol,
        threat: { norm, eps },
        sweep: sweepRadii,
        split: o.split,
        selection,
        seed: o.seed,
        classifier: classifier.settings,
      };
      // A folder holds one run: resuming with other settings would mix results.
      const settingsPath = join(out, 'settings.json');
      if (existsSync(settingsPath)) {
        const previous = readFileSync(settingsPath, 'utf8');
        if (previous !== `${JSON.stringify(settings, null, 2)}\n`)
          throw new InputError(`${out} holds a run with other settings; use another --out (or delete it)`);
      } else {
        writeFileSync(settingsPath, `${JSON.stringify(settings, null, 2)}\n`);
      }
      // What rdc merge checks: every shard of a run shares these (the model by checksum, not path).
      const { model: _dir, selection: _sel, ...shared } = settings;
      const manifest: RunManifest = {
        kind: 'attack',
        settings: shared,
        selection,
        shard: shard && { index: shard.index, count: shard.count },
        code: codeVersion(),
      };
      writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);

      const run = async (e: number, file: string, label: string, keep = 0): Promise<RobustSummary> => {
        const bar = progressBar(label, indices.length, { unit: 'images', fields: ['robust'] });
        let robust = 0;
        try {
          return await evaluateRobustness({
            classifier,
            attacks: buildAttacks(protocol),
            threat: { norm, eps: e },
            images,
            labels,
            indices,
            eot: protocol.eot,
            recheck: protocol.recheck,
            confirm: protocol.confirm,
            squareDraws: protocol.squareDraws,
            seed: o.seed,
            log: new JsonlLog<ImageRecord>(join(out, file)),
            keepAdversarial: keep,
            onImage: (done, _total, rec) => {
              robust += isRobust(rec, protocol.attacks, 'single') ? 1 : 0;
              bar.update(done, { robust: `${robust}/${done}` });
            },
          });
        } finally {
          bar.stop();
        }
      };

      const summary = await run(eps, 'images.jsonl', `attack ε=${eps.toFixed(4)}`, 4);
      let sweep: SweepPoint[] | undefined;
      if (sweepRadii) {
        sweep = [];
        for (const e of sweepRadii) {
          const s = e === eps ? summary : await run(e, `images-eps-${e.toFixed(6)}.jsonl`, `sweep ε=${e.toFixed(4)}`);
          sweep.push(sweepPoint(e, s.rules[protocol.rule]));
        }
      }
      let sanity;
      if (o.sanity) {
        const k = Math.min(o.sanityImages, indices.length);
        const sub = summary.records.slice(0, k);
        const gradientNames = protocol.attacks.filter((a) => a !== 'square');
        const gradRobust = sub.filter((r) => isClean(r, 'single') && gradientNames.every((a) => survives(r, a, 'single'))).length / k;
        const bar = progressBar('sanity', 5, { unit: 'checks' });
        let step = 0;
        sanity = await runSanityChecks({
          classifier,
          exactGradient,
          threat: { norm, eps },
          attack: { iterations: protocol.iterations, restarts: 1, loss: protocol.attacks.includes('apgd-ce') ? 'ce' : 'dlr' },
          images,
          labels: labels.slice(0, k),
          indices: indices.slice(0, k),
          seed: o.seed + 1,
          gradientRobust: gradientNames.length ? gradRobust : undefined,
          sweep: k === indices.length ? sweep?.map((s) => ({ eps: s.eps, robust: s.robust })) : undefined,
          eot: protocol.eot,
          recheck: protocol.recheck,
          squareQueries: protocol.queries,
          onProgress: () => bar.update(++step),
        });
        bar.stop();
      }
      const command = commandLine();
      const { title, defenseLabel, threatLabel, protocolNote } = attackLabels(settings);
      await writeAttackReport(out, {
        title,
        summary,
        rule: protocol.rule,
        settings: { ...settings, shard, ...provenance({ engine: engine.info, seeds: { seed: o.seed } }) },
        threatLabel,
        imagesLabel,
        protocolNote,
        sweep,
        sanity,
        imageDims: classifier.imageDims,
        commandLine: command,
      });
      const { records: _records, adversarial: _adv, ...brief } = summary;
      const result = {
        ...brief,
        guard: guardStatus(model.config),
        rule: protocol.rule,
        sweep,
        sanity,
        settings,
        shard,
        ...provenance({ engine: engine.info, seeds: { seed: o.seed } }),
      };
      writeJson(join(out, 'report.json'), result);
      if (o.json) writeJson(o.json, result);
      if (o.record) {
        const w = summary.rules[protocol.rule];
        const f = (x: { rate: number; ci95: [number, number] }) => formatRate({ rate: x.rate, low: x.ci95[0], high: x.ci95[1] });
        updateModelCardSection(
          o.model,
          `attack-${o.defense}${o.defense === 'rdc' ? `-${method}` : ''}`,
          `- **${defenseLabel}** under attack (${threatLabel}, protocol ${o.protocol}: ${protocol.attacks.join(', ')}, ${protocol.iterations} iterations, ${protocol.levels} σ levels; ${imagesLabel}; re-check rule ${protocol.rule} of ${summary.recheck}): clean ${f(w.clean)}, **worst case ${f(w.worstCase)}**, null attack ${f(w.nullAttack)} (95 % CIs). Command: \`${command}\``,
        );
      }
      const pct = (x: { rate: number; ci95: [number, number] }) =>
        `${(100 * x.rate).toFixed(1)} % [${(100 * x.ci95[0]).toFixed(1)}, ${(100 * x.ci95[1]).toFixed(1)}]`.padEnd(22);
      const row = (name: string, pick: (x: (typeof summary.rules)['single']) => { rate: number; ci95: [number, number] }) =>
        `  ${name.padEnd(12)} ${RECHECK_RULES.map((rule) => pct(pick(summary.rules[rule]))).join(' ')}`;
      const modelLabel = guardLabel(model.config);
      humanOutput(o.json).write(
        [
          ...(modelLabel ? [`${o.model}: ${modelLabel}`] : []),
          `${defenseLabel}, ${threatLabel}, protocol ${o.protocol}, ${imagesLabel}; ${summary.recheck} fresh re-checks per image, counted by`,
          `  ${''.padEnd(12)} ${['first (paper)', `majority of ${summary.recheck}`, `all of ${summary.recheck}`].map((h) => h.padEnd(22)).join(' ')}`,
          row('clean', (x) => x.clean),
          ...Object.keys(summary.attacks).map((n) => row(n, (x) => x.attacks[n])),
          row('worst case', (x) => x.worstCase),
          row('null attack', (x) => x.nullAttack),
          ...(sanity ?? []).map((c) => `  ${c.passed ? 'ok  ' : 'WARN'} ${c.name}: ${c.detail}`),
          `report: ${join(out, 'report.md')}`,
          '',
        ].join('\n'),
      );
    });
}
